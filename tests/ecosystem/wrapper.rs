//! `/opt/datadog_wrapper` as Lambda uses it (issue 13, item 1): the runtime's bootstrap execs
//! `$AWS_LAMBDA_EXEC_WRAPPER <runtime command>`; here that command is AWS's runtime client
//! (`awslambdaric`), which must then answer invocations from the Runtime API as usual.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_started_through_the_wrapper_answers_invocations() {
    let mut h = agent(&[]).await;
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("layer/datadog_wrapper");
    let task_root = clients().join("lambda_app");
    // What a Lambda runtime's bootstrap does with AWS_LAMBDA_EXEC_WRAPPER.
    let mut runtime = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$AWS_LAMBDA_EXEC_WRAPPER" python3 -m awslambdaric plain.handler"#)
        .current_dir(&task_root)
        .envs(tools::python_env())
        .env("AWS_LAMBDA_EXEC_WRAPPER", &wrapper)
        .env("AWS_LAMBDA_RUNTIME_API", h.platform.runtime_api())
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
        .env("DD_LOG_LEVEL", "DEBUG")
        .env("LAMBDA_TASK_ROOT", &task_root)
        .env("PYTHONPATH", &task_root)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for n in [1, 2] {
        let (_, (kind, body)) = h
            .platform
            .invoke_runtime(&request_id(40 + n), json!({ "n": n }), T, async || {
                Vec::new()
            })
            .await
            .unwrap();
        assert_eq!(kind, "response", "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"n": n, "dd_log_level": "debug"}),
            "the runtime ran under the wrapper, which lower-cased DD_LOG_LEVEL"
        );
    }
    h.shutdown(Duration::from_secs(2)).await.unwrap();
    let _ = runtime.kill().await;
}
