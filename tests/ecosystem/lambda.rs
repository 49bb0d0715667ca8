//! Python `datadog-lambda` wrapping a handler under AWS's runtime client, correlated by request id.

use super::*;

/// A private mount namespace in which `/opt/extensions/datadog-agent` exists (the path
/// `datadog-lambda` checks to use the extension), leaving the host's `/opt` untouched.
fn fake_opt() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-eco-opt-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("extensions")).unwrap();
    let agent = dir.join("extensions/datadog-agent");
    let _ = std::fs::remove_file(&agent);
    std::os::unix::fs::symlink(bin(), &agent).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_datadog_lambda_under_awslambdaric_correlates_by_request_id() {
    use tokio::io::AsyncBufReadExt;
    // datadog-lambda talks to the extension on its fixed ports (8124 lifecycle, 8125
    // DogStatsD, 8126 traces); this is the one test that uses them.
    let mut h = agent(&[
        ("TANDEM_LIFECYCLE_PORT", "8124"),
        ("DD_DOGSTATSD_PORT", "8125"),
        ("DD_APM_RECEIVER_PORT", "8126"),
        ("DD_SERVICE", "eco-lambda"),
    ])
    .await;
    let opt = fake_opt();
    let task_root = clients().join("lambda_app");
    let mut runtime = tokio::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$FAKE_OPT" /opt && exec python3 -m awslambdaric datadog_lambda.handler.handler"#)
        .current_dir(&task_root)
        .envs(tools::python_env())
        .env("FAKE_OPT", &opt)
        .env("AWS_LAMBDA_RUNTIME_API", h.platform.runtime_api())
        .env("LAMBDA_TASK_ROOT", &task_root)
        .env("PYTHONPATH", &task_root)
        .env("PYTHONUNBUFFERED", "1")
        .env("DD_LAMBDA_HANDLER", "app.handler")
        .env("DD_SERVICE", "eco-lambda")
        .env("DD_TRACE_ENABLED", "true")
        .env("DD_MERGE_XRAY_TRACES", "false")
        .env("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false")
        .env("DD_REMOTE_CONFIGURATION_ENABLED", "false")
        .env("AWS_LAMBDA_FUNCTION_NAME", "tandem-test")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("unshare (util-linux: apt-get install util-linux) is installed");
    // Everything the function prints is its log, as Lambda captures it.
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    for pipe in [
        Box::new(runtime.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(runtime.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line);
            }
        });
    }
    let mut seen = Vec::new();
    let mut ids = Vec::new();
    for order in [7, 8] {
        let id = request_id(order);
        let marker = format!("handling order {order}");
        let (_, (kind, body)) = h
            .platform
            .invoke_runtime(&id, json!({ "order": order }), T, async || {
                // The handler's own line is in the pipe once the response is posted.
                let mut out = Vec::new();
                while let Ok(Some(line)) = tokio::time::timeout(T, lines.recv()).await {
                    let done = line.contains(&marker);
                    out.push(line);
                    if done {
                        break;
                    }
                }
                while let Ok(line) = lines.try_recv() {
                    out.push(line);
                }
                seen.extend(out.clone());
                out.iter().map(|l| ev::function_text(l)).collect()
            })
            .await
            .unwrap_or_else(|e| panic!("{e}; runtime output: {seen:?}"));
        assert_eq!(kind, "response", "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"statusCode": 200, "order": order})
        );
        ids.push(id);
    }
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let _ = runtime.kill().await;

    // Custom metric: datadog-lambda sends a distribution to the extension's DogStatsD.
    let orders: Vec<_> = h
        .intake
        .sketches()
        .into_iter()
        .filter(|s| s.metric == "eco.lambda.orders")
        .collect();
    assert!(
        !orders.is_empty(),
        "custom metric missing; runtime said {seen:?}"
    );
    assert!(
        orders
            .iter()
            .all(|s| s.tags.iter().any(|t| t == "source:eco"))
    );
    assert_eq!(
        orders
            .iter()
            .flat_map(|s| &s.dogsketches)
            .map(|d| d.sum)
            .sum::<f64>(),
        15.0,
        "7 + 8"
    );
    // The aws.lambda span of each invocation, made by the library, carries its request id;
    // the function's log line of that invocation carries the same id.
    let spans = h.intake.spans();
    let entries = h.intake.log_entries();
    for (order, id) in [7, 8].iter().zip(&ids) {
        let span = spans
            .iter()
            .find(|s| s.name == "aws.lambda" && s.meta.get("request_id") == Some(id))
            .unwrap_or_else(|| panic!("aws.lambda span for {id}: {spans:?}"));
        assert_eq!(span.service, "eco-lambda");
        let line = entries
            .iter()
            .find(|e| e["message"]["message"] == format!("handling order {order}"))
            .unwrap_or_else(|| panic!("log line of order {order}"));
        assert_eq!(line["message"]["lambda"]["request_id"], id.as_str());
    }
    let _ = std::fs::remove_dir_all(opt);
}
