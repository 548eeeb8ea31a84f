//! `cargo xtask bench [--quick] [FILTER]`: runs the criterion benches, then reads criterion's
//! estimates and writes one table per group, each case's time and its ratio to ours, to
//! `target/bench-report/report.md` and `report.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::{Result, cargo, project_root, run_step};

/// The case in each group that the others are compared with.
const OURS: &[&str] = &["pc", "recv_batch_64"];

pub(crate) fn run(args: &[String]) -> Result {
    let mut quick = false;
    let mut filter = None;
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            flag if flag.starts_with('-') => return Err(format!("bench: unknown flag `{flag}`")),
            pattern if filter.is_none() => filter = Some(pattern.to_string()),
            extra => return Err(format!("bench: one filter at most, got `{extra}` too")),
        }
    }

    let started = SystemTime::now();
    let mut command = cargo();
    command.args(["bench", "--package", "pc-benches", "--"]);
    if quick {
        command.arg("--quick");
    }
    if let Some(filter) = &filter {
        command.arg(filter);
    }
    run_step("criterion", &mut command)?;

    let criterion = project_root().join("target/criterion");
    let groups = read_estimates(&criterion, started)?;
    if groups.is_empty() {
        return Err(format!(
            "no criterion estimates newer than this run under {}",
            criterion.display()
        ));
    }
    let command_line = std::iter::once("cargo xtask bench".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let markdown = render_markdown(&groups, &command_line);
    print!("\n{markdown}");
    let out = project_root().join("target/bench-report");
    fs::create_dir_all(&out).map_err(|err| format!("{}: {err}", out.display()))?;
    write(&out.join("report.md"), &markdown)?;
    let json = serde_json::to_string_pretty(&render_json(&groups, &command_line))
        .map_err(|err| format!("report.json: {err}"))?;
    write(&out.join("report.json"), &json)?;
    for (group, cases) in &groups {
        let svg = crate::chart::group_svg(group, cases, OURS);
        write(&out.join(crate::chart::file_name(group)), &svg)?;
    }
    eprintln!(
        "==> wrote {0}/report.md, report.json and a chart per group; criterion's own report: {1}",
        out.display(),
        criterion.join("report/index.html").display()
    );
    Ok(())
}

/// One measured case: its name and mean time per iteration in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) mean_ns: f64,
    /// Elements per iteration, when the group declares a throughput.
    pub(crate) elements: Option<f64>,
}

/// Cases by group, from every `new/` estimate written after `since`.
fn read_estimates(criterion: &Path, since: SystemTime) -> Result<BTreeMap<String, Vec<Case>>> {
    let mut groups: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for group_dir in read_dir(criterion)? {
        for case_dir in read_dir(&group_dir)? {
            let new = case_dir.join("new");
            let (Ok(benchmark), Ok(estimates)) = (
                fs::read_to_string(new.join("benchmark.json")),
                fs::read_to_string(new.join("estimates.json")),
            ) else {
                continue;
            };
            let fresh = fs::metadata(new.join("estimates.json"))
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified >= since);
            if !fresh {
                continue;
            }
            let (group, case) = parse_case(&benchmark, &estimates)?;
            groups.entry(group).or_default().push(case);
        }
    }
    for cases in groups.values_mut() {
        cases.sort_by(|a, b| a.mean_ns.total_cmp(&b.mean_ns));
    }
    Ok(groups)
}

/// Reads criterion's `benchmark.json` (names) and `estimates.json` (times).
fn parse_case(benchmark: &str, estimates: &str) -> Result<(String, Case)> {
    let benchmark: Value =
        serde_json::from_str(benchmark).map_err(|err| format!("benchmark.json: {err}"))?;
    let estimates: Value =
        serde_json::from_str(estimates).map_err(|err| format!("estimates.json: {err}"))?;
    let group = benchmark["group_id"]
        .as_str()
        .ok_or("benchmark.json without group_id")?
        .to_string();
    let name = benchmark["function_id"]
        .as_str()
        .or_else(|| benchmark["value_str"].as_str())
        .unwrap_or(&group)
        .to_string();
    let mean_ns = estimates["mean"]["point_estimate"]
        .as_f64()
        .ok_or("estimates.json without mean.point_estimate")?;
    let elements = benchmark["throughput"]["Elements"].as_f64();
    Ok((
        group,
        Case {
            name,
            mean_ns,
            elements,
        },
    ))
}

/// Our case's time in a group, if the group has one of ours.
fn our_time(cases: &[Case]) -> Option<f64> {
    cases
        .iter()
        .find(|case| OURS.contains(&case.name.as_str()))
        .map(|case| case.mean_ns)
}

fn render_markdown(groups: &BTreeMap<String, Vec<Case>>, command_line: &str) -> String {
    let mut md = format!(
        "Command: `{command_line}`. Ratio = case time / our time (above 1: slower than ours). \
         Criterion's own report, with each case's distribution: \
         [../criterion/report/index.html](../criterion/report/index.html).\n"
    );
    for (group, cases) in groups {
        let ours = our_time(cases);
        let chart = crate::chart::file_name(group);
        let _ = write!(
            md,
            "\n### {group}\n\n![{group}]({chart})\n\n| case | time | throughput | ratio to ours |\n|---|---:|---:|---:|\n"
        );
        for case in cases {
            let ratio = ours.map_or_else(
                || "-".to_string(),
                |ours| format!("{:.2}x", case.mean_ns / ours),
            );
            let throughput = case.elements.map_or_else(
                || "-".to_string(),
                |elements| format!("{:.2}M/s", elements / case.mean_ns * 1e3),
            );
            let _ = writeln!(
                md,
                "| {} | {} | {throughput} | {ratio} |",
                case.name,
                human_time(case.mean_ns)
            );
        }
    }
    md
}

fn render_json(groups: &BTreeMap<String, Vec<Case>>, command_line: &str) -> Value {
    let groups: Vec<Value> = groups
        .iter()
        .map(|(group, cases)| {
            let ours = our_time(cases);
            let cases: Vec<Value> = cases
                .iter()
                .map(|case| {
                    json!({
                        "name": case.name,
                        "mean_ns": case.mean_ns,
                        "elements": case.elements,
                        "ratio_to_ours": ours.map(|ours| case.mean_ns / ours),
                    })
                })
                .collect();
            json!({ "group": group, "cases": cases })
        })
        .collect();
    json!({ "command": command_line, "groups": groups })
}

fn human_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    Ok(entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir())
        .collect())
}

fn write(path: &Path, text: &str) -> Result {
    fs::write(path, text).map_err(|err| format!("{}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BENCHMARK: &str = r#"{"group_id":"channel-ct-1p1c-cap16","function_id":"flume","value_str":null,
        "throughput":{"Elements":100000},"full_id":"channel-ct-1p1c-cap16/flume","directory_name":"x","title":"x"}"#;
    const ESTIMATES: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,
        "upper_bound":3.0},"point_estimate":2000000.0,"standard_error":0.1}}"#;

    #[test]
    fn reads_criterion_files() {
        let (group, case) = parse_case(BENCHMARK, ESTIMATES).unwrap();
        assert_eq!(group, "channel-ct-1p1c-cap16");
        assert_eq!(
            case,
            Case {
                name: "flume".into(),
                mean_ns: 2e6,
                elements: Some(1e5)
            }
        );
    }

    #[test]
    fn ratios_are_relative_to_ours() {
        let mut groups = BTreeMap::new();
        groups.insert(
            "g".to_string(),
            vec![
                Case {
                    name: "pc".into(),
                    mean_ns: 1e6,
                    elements: Some(1e5),
                },
                Case {
                    name: "peer".into(),
                    mean_ns: 2.5e6,
                    elements: Some(1e5),
                },
            ],
        );
        let md = render_markdown(&groups, "cargo xtask bench");
        assert!(md.contains("| pc | 1.00 ms | 100.00M/s | 1.00x |"), "{md}");
        assert!(md.contains("| peer | 2.50 ms | 40.00M/s | 2.50x |"), "{md}");
        assert!(md.contains("\n![g](g.svg)\n"), "{md}");
        let json = render_json(&groups, "cargo xtask bench");
        assert_eq!(json["groups"][0]["cases"][1]["ratio_to_ours"], 2.5);
    }
}
