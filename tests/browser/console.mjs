// The gwx web console in headless Chromium (Debian's), driven by
// playwright-core with the demo client certificates. Run by tests/browser.rs,
// which starts the hub and writes the context file named on the command line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const ctx = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const shot = (page, name) => page.screenshot({ path: join(ctx.artifacts, `${name}.png`), fullPage: true });
function check(condition, what) {
  if (!condition) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

/** A page whose browser presents `who`'s certificate; dialogs are accepted. */
async function pageAs(who) {
  const options = { ignoreHTTPSErrors: true, locale: 'zh-TW', timezoneId: 'Asia/Taipei' };
  if (who) {
    const c = ctx.certs[who];
    options.clientCertificates = [c.pfx
      ? { origin: ctx.hub, pfxPath: c.pfx, passphrase: c.passphrase }
      : { origin: ctx.hub, certPath: c.cert, keyPath: c.key }];
  }
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on('dialog', (dialog) => dialog.accept());
  page.on('pageerror', (error) => { throw error; });
  return page;
}

try {
  // A clerk sees a new document, opens it and returns it with a reason.
  const education = await pageAs('education');
  await education.goto(`${ctx.hub}/console/inbox`);
  await shot(education, 'inbox');
  check((await education.textContent('thead')).includes('臺北時間'), 'the inbox labels its times as Taipei time');
  const link = education.getByRole('link', { name: ctx.number });
  check(await link.count() === 1, 'the new document is in the inbox');
  await link.click();
  await education.waitForSelector('#signature');
  check((await education.textContent('#signature')).includes('有效'), 'its signature is shown as valid');
  check((await education.textContent('#state')).includes('已讀取'), 'opening it counts as reading it');
  const deliveryUrl = education.url();
  await shot(education, 'delivery');
  await education.fill('#reason', '非本局業務，請改送民政局');
  await education.click('#return');
  await education.waitForURL(/msg=returned/);
  check((await education.textContent('#state')).includes('已退文'), 'the delivery is returned');
  await shot(education, 'returned');

  // The sender sees the return on its sent page and on the paper resend list.
  const civil = await pageAs('civil');
  await civil.goto(`${ctx.hub}/console/sent`);
  await civil.getByRole('link', { name: ctx.number }).click();
  const row = civil.locator('tr[data-recipient]');
  check((await row.textContent()).includes('已退文') && (await row.textContent()).includes('請改送民政局'),
    'the sender sees the return and its reason');
  await shot(civil, 'sent');
  await civil.goto(`${ctx.hub}/console/deadlines/sender`);
  const list = await civil.textContent('main');
  check(list.includes(ctx.number) && list.includes('非本局業務'), 'the return is on the paper resend list');
  await civil.emulateMedia({ media: 'print' });
  check(!(await civil.isVisible('nav.main')), 'the printout leaves out the menu');
  await shot(civil, 'paper-resend');
  await civil.emulateMedia({ media: 'screen' });

  // A supervisor approves an application.
  await education.goto(`${ctx.hub}/console/applications`);
  const application = education.locator(`section[data-application="${ctx.application}"]`);
  check(await application.count() === 1, 'the application waits for its supervisor');
  await shot(education, 'applications');
  await application.locator('button.approve').click();
  await education.waitForURL(/msg=approved/);
  check((await education.textContent('main')).includes('目前沒有待處理的申請'), 'the application left the queue');

  // 研考會 opens the dashboard; the chart renders.
  const rdec = await pageAs('rdec');
  await rdec.goto(`${ctx.hub}/console/audit`);
  const bars = rdec.locator('#chart svg rect.seg');
  check(await bars.count() >= 1, 'the chart has bars');
  const box = await rdec.locator('#chart svg').boundingBox();
  check(box && box.width > 300 && box.height > 40, 'the chart is drawn on the page');
  check((await rdec.textContent('main')).includes('教育局'), 'the table names the participants');
  const csv = await rdec.request.get(`${ctx.hub}/api/v1/audit/timeliness?format=csv`);
  check(csv.status() === 200 && csv.headers()['content-type'].startsWith('text/csv'), 'the CSV downloads');
  await shot(rdec, 'audit');

  // 研考會 reads a meeting notice as on paper, and prints it under the exchange stamp.
  await rdec.goto(`${ctx.hub}/console/deliveries/${ctx.meeting}`);
  const reading = await rdec.textContent('#reading');
  check(reading.includes('開會通知單') && reading.includes('研商「公文電子交換中心」上線作業事宜'),
    'the meeting notice reads as one, with its 開會事由');
  check(reading.includes('中華民國115年12月10日（星期四）上午10時0分') && reading.includes('本府北區2樓N206會議室'),
    'its time and place are shown');
  await shot(rdec, 'meeting');
  await rdec.click('#print');
  await rdec.waitForSelector('#exchange-stamp');
  await rdec.emulateMedia({ media: 'print' });
  const stamp = await rdec.textContent('#exchange-stamp');
  check(stamp.includes('電子公文交換戳記') && stamp.includes('北市資綜字第1153100008號') && stamp.includes('臺北時間'),
    'the printout carries the exchange stamp: hub, number, received time');
  check(await rdec.isVisible('#exchange-stamp') && !(await rdec.isVisible('button[data-print]')),
    'the stamp prints, the print button does not');
  await shot(rdec, 'print');
  await rdec.emulateMedia({ media: 'screen' });

  // A clerk of another agency cannot open Education's delivery.
  const social = await pageAs('social');
  const refused = await social.goto(deliveryUrl);
  check(refused.status() === 403, 'another agency gets 403');
  check((await social.textContent('h1')).includes('權限不足'), 'the 403 page says why');
  await shot(social, 'forbidden');

  // The other main pages, each for its role.
  // Every page that shows times says they are Taipei's; none shows a code where people read words.
  // A cell that is a bare code (registered, correction_requested, tls.refused, connected_user) is one people cannot read.
  const code = /^(registered|correction_requested|new|change|cancel|connected_user|agency|active|suspended|pending|[a-z_]+\.[a-z_]+)$/;
  for (const [who, path, title, name, times] of [
    ['itBureau', '/console/admin', '系統管理', 'admin', true],
    ['ethics', '/console/security', '資安稽核紀錄', 'security', true],
    ['education', '/console/groups', '行文群組', 'groups', false],
    ['education', '/console/deadlines/receiver', '逾期未處理公文清單', 'overdue', true],
    ['civil', '/console/sent', '已發公文', 'sent-list', true],
  ]) {
    const page = who === 'education' ? education : who === 'civil' ? civil : await pageAs(who);
    const response = await page.goto(`${ctx.hub}${path}`);
    check(response.status() === 200 && (await page.textContent('h1')).includes(title), `${path} opens for ${who}`);
    const text = await page.textContent('main');
    const cells = await page.locator('main td').allTextContents();
    // (An empty list has no times to label.)
    if (times && cells.length > 0) {
      check(text.includes('臺北時間') || text.includes('（臺北）'), `${path} labels its times as Taipei time`);
    }
    check(!cells.some((c) => code.test(c.trim())), `${path} shows words, not codes`);
    await shot(page, name);
  }

  // The roster needs no certificate.
  const anonymous = await pageAs(null);
  const roster = await anonymous.goto(`${ctx.hub}/roster`);
  check(roster.status() === 200, 'the roster loads without a certificate');
  check(await anonymous.locator('#roster tbody tr').count() >= 9, 'the roster lists the participants');
  const rosterText = await anonymous.textContent('main');
  check(rosterText.includes('臺北時間') && rosterText.includes('登錄') && !rosterText.includes('registered'),
    'the roster shows its changes in words, at Taipei times');
  await shot(anonymous, 'roster');
  const closed = await anonymous.goto(`${ctx.hub}/console/inbox`);
  check(closed.status() === 401, 'the console itself needs a certificate');
} finally {
  await browser.close();
}
