use clap::Parser;

// glibc's allocator showed up at a fifth of the hub's CPU under load
// (many short-lived buffers per request); mimalloc cuts that down.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Before anything opens a database or a TLS context.
    let (sqlite, openssl) = gwx::store::c_memory::use_mimalloc();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GWX_LOG").unwrap_or_else(|_| "gwx=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    tracing::debug!(sqlite, openssl, "mimalloc for the C libraries");
    match gwx::tools::cli::run(gwx::tools::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gwx: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
