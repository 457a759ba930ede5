// gwx console: the only script. Forms that change something ask first
// (data-confirm); printing has a button. Everything works without it.
document.addEventListener('submit', (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener('click', (event) => {
  if (event.target.matches('[data-print]')) window.print();
});
