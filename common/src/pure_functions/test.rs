//! Salt's `test` module: functions for checking that minions answer and that
//! arguments arrive as sent. Pure: the minion and the master (its pillar,
//! reactor and orchestrate templates) register the same functions.

use std::time::{Duration, Instant};

use crate::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Value, json};

pub fn register<C: Send + 'static>(f: &mut Functions<C>) {
    f.register("test.ping", "", PING_DOC, |_: C, _| async {
        ok(json!(true))
    });
    f.register("test.echo", "text", ECHO_DOC, |_: C, call| async move {
        echo(&call)
    });
    f.register(
        "test.arg",
        "*args, **kwargs",
        ARG_DOC,
        |_: C, call| async move { ok(arg(&call)) },
    );
    f.register("test.version", "", VERSION_DOC, |_: C, _| async {
        ok(json!(env!("CARGO_PKG_VERSION")))
    });
    f.register("test.sleep", "length", SLEEP_DOC, |_: C, call| async move {
        sleep(&call).await
    });
    f.register(
        "test.outputter",
        "data",
        OUTPUTTER_DOC,
        |_: C, call| async move {
            // The signature check has made sure `data` is there.
            ok(call.param(0, "data").cloned().unwrap_or(Value::Null))
        },
    );
    f.register("test.true", "", TRUE_DOC, |_: C, _| async {
        ok(json!(true))
    });
    f.register("test.false", "", FALSE_DOC, |_: C, _| async {
        ok(json!(false))
    });
    f.register("test.fib", "num", FIB_DOC, |_: C, call| async move {
        fib(&call)
    });
    f.register(
        "test.exception",
        r#"message="Test Exception""#,
        EXCEPTION_DOC,
        |_: C, call| async move { exception(&call) },
    );
}

fn ok(v: Value) -> Result<FnOutput, FnError> {
    Ok(v.into())
}

const OUTPUTTER_DOC: &str = "Test the outputter, pass in data to return\n\nCLI Example:\n\n    brine '*' test.outputter foobar";
const PING_DOC: &str = "Used to make sure the minion is up and responding. Returns True.\n\nCLI Example:\n\n    brine '*' test.ping";
const ECHO_DOC: &str = "Return a string - used for testing the connection\n\nCLI Example:\n\n    brine '*' test.echo 'foo bar baz quo qux'";
const ARG_DOC: &str = "Print out the data passed into the function ``*args`` and ``kwargs``, this\nis used to both test the publication data and CLI argument passing, but\nalso to display the information available within the publication data.\n\nReturns: {\"args\": args, \"kwargs\": kwargs}\n\nCLI Example:\n\n    brine '*' test.arg 1 \"two\" 3.1 txt=\"hello\" wow='{a: 1, b: \"hello\"}'";
const VERSION_DOC: &str =
    "Return the version of brine on the minion\n\nCLI Example:\n\n    brine '*' test.version";
const SLEEP_DOC: &str = "Instruct the minion to initiate a process that will sleep for a given\nperiod of time.\n\nCLI Example:\n\n    brine '*' test.sleep 20";
const TRUE_DOC: &str = "Always return True\n\nCLI Example:\n\n    brine '*' test.true";
const FALSE_DOC: &str = "Always return False\n\nCLI Example:\n\n    brine '*' test.false";
const FIB_DOC: &str = "Return the num-th Fibonacci number, and the time it took to compute in\nseconds. Used for performance tests.\n\nCLI Example:\n\n    brine '*' test.fib 3";
const EXCEPTION_DOC: &str = "Raise an exception\n\nOptionally provide an error message or output the full stack.\n\nCLI Example:\n\n    brine '*' test.exception 'Oh noes!'";

fn echo(call: &Call) -> Result<FnOutput, FnError> {
    let text = call.param(0, "text").ok_or_else(|| {
        FnError::Invocation("echo() missing 1 required positional argument: 'text'".into())
    })?;
    // Salt's signature is echo(text) and returns what it got.
    ok(text.clone())
}

fn arg(call: &Call) -> Value {
    json!({"args": call.args, "kwargs": call.kwargs})
}

async fn sleep(call: &Call) -> Result<FnOutput, FnError> {
    let secs = call.float_param(0, "length", None)?;
    if !(0.0..=1e7).contains(&secs) {
        return Err(FnError::Invocation(format!("invalid sleep length {secs}")));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    ok(json!(true))
}

fn fib(call: &Call) -> Result<FnOutput, FnError> {
    let num = call.int_param(0, "num", None)?;
    if num < 0 {
        return Err(FnError::Exception(
            "ValueError: Negative number is not allowed!".into(),
        ));
    }
    let start = Instant::now();
    let (mut prev, mut curr) = (0u128, 1u128);
    let value = if num < 2 {
        num as u128
    } else {
        for _ in 1..num.min(180) {
            (prev, curr) = (curr, prev + curr);
        }
        curr
    };
    let number = u64::try_from(value)
        .map(Value::from)
        .unwrap_or_else(|_| json!(value.to_string()));
    ok(json!([number, start.elapsed().as_secs_f64()]))
}

fn exception(call: &Call) -> Result<FnOutput, FnError> {
    let message = call
        .param(0, "message")
        .and_then(Value::as_str)
        .unwrap_or("Test Exception")
        .to_string();
    Err(FnError::Exception(format!("Exception: {message}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn call(args: Vec<Value>) -> Call {
        Call {
            fun: "x".into(),
            args,
            kwargs: Map::new(),
        }
    }

    #[test]
    fn fib_matches_salt() {
        let out = fib(&call(vec![json!(10)])).expect("fib").ret;
        assert_eq!(out[0], json!(55));
        assert_eq!(fib(&call(vec![json!(1)])).expect("fib").ret[0], json!(1));
        assert!(fib(&call(vec![json!(-1)])).is_err());
    }

    #[test]
    fn echo_and_arg() {
        assert_eq!(
            echo(&call(vec![json!("hi")])).expect("echo").ret,
            json!("hi")
        );
        assert!(echo(&call(vec![])).is_err());
        assert_eq!(arg(&call(vec![json!(1)]))["args"], json!([1]));
    }
}
