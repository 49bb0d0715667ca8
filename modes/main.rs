//! The `tandem` binary: as a Lambda extension (no arguments) it parses the config, picks the
//! mode and runs it. Short, and never panics on anything from outside. The local run against
//! the platform simulator is a separate binary (`tandem-local`, in the test kit), so that none
//! of the simulator is ever shipped in the layer.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tandem::config::Config;
use tandem::secrets::indirect;
use tandem::{diag, log_error, log_warn};

fn main() -> ExitCode {
    tandem::memory::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("--version" | "-V") => {
            println!("tandem {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(_) => {
            println!(
                "usage: tandem    run as a Lambda extension (inside Lambda); README \"The two commands\" shows the local run"
            );
            return ExitCode::from(2);
        }
    }

    tandem::counters::install();
    let (config, mut warnings, source) = Config::from_process();
    diag::set_level(config.log_level);
    let runtime = match tandem::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            log_error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Settings held in secrets that shape the pipelines are read before anything starts.
    let (config, more, errors) = runtime.block_on(indirect::at_init(config, &source));
    diag::set_level(config.log_level);
    for w in more {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    for w in warnings {
        log_warn!("{w}");
    }
    for e in errors {
        log_error!("{e}");
    }
    let result = runtime.block_on(tandem_modes::run(Arc::new(config)));
    runtime.shutdown_timeout(Duration::from_millis(50));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log_error!("{e}");
            ExitCode::FAILURE
        }
    }
}
