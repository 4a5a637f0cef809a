//! `plumb test`: scenario scripts, each in its own fresh sandbox (a child
//! `plumb --sandbox scenario FILE`), in parallel, each with a time limit.
//! Inside the sandbox a scenario passes when it runs to the end without
//! error *and* rolling it back restores the sandbox exactly.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::rollback::{self, Which};
use super::run;
use crate::error::{Error, Result};

pub struct TestArgs {
    pub paths: Vec<PathBuf>,
    pub jobs: usize,
    pub timeout: Duration,
    pub junit: Option<PathBuf>,
}

struct Verdict {
    file: PathBuf,
    passed: bool,
    secs: f64,
    /// Why it failed: the located script error, a rollback leftover, a timeout.
    error: String,
    output: String,
}

/// The scenario files: each path as given, or the `.rhai` files in a directory.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io(format!("read {}", path.display()), e))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
                .collect();
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(Error::Usage(format!(
                "scenario path {}: no such file or directory",
                path.display()
            )));
        }
    }
    if files.is_empty() {
        return Err(Error::Usage(format!(
            "no .rhai files in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }
    Ok(files)
}

/// Run every scenario; true when all passed.
pub fn test(args: TestArgs) -> Result<bool> {
    let files = collect(&args.paths)?;
    // What the snapshot and every scenario will run, checked before any starts.
    let snapshot = |program: &str| {
        let at = crate::script::needs::Use {
            call: "plumb_snapshot".into(),
            file: "src/snapshot.sh".into(),
            line: 1 + SNAPSHOT_SH
                .lines()
                .position(|l| l.starts_with("plumb_snapshot()"))
                .unwrap_or(0),
        };
        (program.to_string(), at)
    };
    let mut needs = vec![snapshot("bash"), snapshot("ip")];
    for file in &files {
        let name = file.display().to_string();
        if let Ok(source) = std::fs::read_to_string(file) {
            needs.extend(crate::script::needs::programs_needed(&name, &source));
        }
    }
    crate::script::needs::refuse_missing("plumb test", needs)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("find plumb's own binary", e))?;
    let queue = Mutex::new(files.into_iter().rev().collect::<Vec<_>>());
    let verdicts = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..args.jobs.max(1) {
            s.spawn(|| loop {
                let Some(file) = queue.lock().expect("queue").pop() else {
                    return;
                };
                let verdict = run_one(&exe, &file, args.timeout);
                print_verdict(&verdict);
                verdicts.lock().expect("verdicts").push(verdict);
            });
        }
    });
    let mut verdicts = verdicts.into_inner().expect("verdicts");
    verdicts.sort_by(|a, b| a.file.cmp(&b.file));
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&verdicts))
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    }
    println!("{} passed, {} failed", verdicts.len() - failed, failed);
    Ok(failed == 0)
}

fn print_verdict(v: &Verdict) {
    let name = v.file.display();
    if v.passed {
        println!("ok      {name} ({:.2}s)", v.secs);
    } else {
        println!("FAILED  {name} ({:.2}s): {}", v.secs, v.error);
    }
}

fn run_one(exe: &Path, file: &Path, timeout: Duration) -> Verdict {
    let started = Instant::now();
    let child = Command::new(exe)
        .arg("--sandbox")
        .arg("scenario")
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let (passed, error, output) = match child {
        Ok(child) => wait_scenario(child, file, timeout),
        Err(e) => (
            false,
            format!("cannot start {}: {e}", exe.display()),
            String::new(),
        ),
    };
    Verdict {
        file: file.to_path_buf(),
        passed,
        secs: started.elapsed().as_secs_f64(),
        error,
        output,
    }
}

fn wait_scenario(mut child: Child, file: &Path, timeout: Duration) -> (bool, String, String) {
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut text);
            }
            text
        })
    };
    let out = reader(child.stdout.take().map(|r| Box::new(r) as _));
    let err = reader(child.stderr.take().map(|r| Box::new(r) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                // The sandbox's init dies with this child, taking everything in it.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let output = format!("{stdout}{stderr}");
    match status {
        None => (
            false,
            format!("timed out after {}s", timeout.as_secs_f64()),
            output,
        ),
        Some(s) if s.success() => (true, String::new(), output),
        Some(_) => (false, failure_line(file, &stderr), output),
    }
}

/// The line that says why: the located script error (`FILE:L:C: ...`), or
/// else the last thing the scenario printed.
fn failure_line(file: &Path, stderr: &str) -> String {
    let prefix = format!("{}:", file.display());
    stderr
        .lines()
        .find(|l| l.starts_with(&prefix) || l.starts_with("plumb test: "))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("failed without a message")
        .trim_start_matches("plumb test: ")
        .to_string()
}

/// The state a rollback must restore (src/snapshot.sh: read with `ip`,
/// `sysctl` files and iptables-save, not with plumb's own code).
pub const SNAPSHOT_SH: &str = include_str!("../snapshot.sh");

fn snapshot() -> Result<Vec<String>> {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{SNAPSHOT_SH}\nplumb_snapshot"))
        .output()
        .map_err(|e| Error::io("run bash for the state snapshot", e))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// Inside the sandbox: run the scenario, roll it back, and compare the
/// sandbox with how it was before. Returns true when both went well.
pub fn run_in_sandbox(file: &Path) -> Result<bool> {
    let before = snapshot()?;
    let outcome = run::run(run::RunArgs {
        script: file.to_path_buf(),
        params: Default::default(),
        dry_run: false,
    })?;
    if matches!(outcome, run::Outcome::Failed(_)) {
        return Ok(false);
    }
    if !rollback::rollback(Which::All, false, false)? {
        eprintln!("plumb test: rolling the scenario back failed");
        return Ok(false);
    }
    let after = snapshot()?;
    let left: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
    let lost: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
    if left.is_empty() && lost.is_empty() {
        return Ok(true);
    }
    let mut why = String::from("rollback did not restore the sandbox:");
    for l in left {
        why += &format!(" [left] {l};");
    }
    for l in lost {
        why += &format!(" [lost] {l};");
    }
    eprintln!("plumb test: {}", why.trim_end_matches(';'));
    Ok(false)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML, as CI systems read it: one testcase per scenario.
fn junit(verdicts: &[Verdict]) -> String {
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    let total: f64 = verdicts.iter().map(|v| v.secs).sum();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"plumb\" tests=\"{}\" failures=\"{failed}\" time=\"{total:.3}\">\n",
        verdicts.len()
    );
    for v in verdicts {
        let name = xml_escape(&v.file.display().to_string());
        xml += &format!("  <testcase name=\"{name}\" time=\"{:.3}\"", v.secs);
        if v.passed {
            xml += "/>\n";
        } else {
            xml += &format!(
                ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                xml_escape(&v.error),
                xml_escape(&v.output)
            );
        }
    }
    xml + "</testsuite>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(file: &str, passed: bool, error: &str) -> Verdict {
        Verdict {
            file: file.into(),
            passed,
            secs: 0.5,
            error: error.into(),
            output: "out <&>".into(),
        }
    }

    #[test]
    fn the_failure_line_is_the_located_error() {
        let stderr = "plumb: rolled back\ntests/s/a.rhai:3:5: boom\nplumb: more\n";
        assert_eq!(
            failure_line(Path::new("tests/s/a.rhai"), stderr),
            "tests/s/a.rhai:3:5: boom"
        );
        assert_eq!(failure_line(Path::new("x.rhai"), "first\nlast\n\n"), "last");
        let leftover = "plumb test: rollback did not restore the sandbox: [left] netns a\n";
        assert!(failure_line(Path::new("x.rhai"), leftover).starts_with("rollback did not"));
    }

    #[test]
    fn junit_counts_failures_and_escapes_text() {
        let xml = junit(&[
            verdict("a.rhai", true, ""),
            verdict("b<.rhai", false, "x \"y\""),
        ]);
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("<testcase name=\"a.rhai\" time=\"0.500\"/>"),
            "{xml}"
        );
        assert!(xml.contains("name=\"b&lt;.rhai\""), "{xml}");
        assert!(
            xml.contains("<failure message=\"x &quot;y&quot;\">out &lt;&amp;&gt;</failure>"),
            "{xml}"
        );
    }
}
