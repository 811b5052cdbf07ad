//! A run as one self-contained HTML page, to attach to a bug report: the services' starts,
//! the faults as bands with their time-to-detect and time-to-recover marks, each probe as a
//! lane of what it saw, the expectations' verdicts, and the OpenClaw release. No file beside
//! it, nothing fetched: the run's data is in the page and a script draws it (the page says it
//! has drawn by setting `data-lanes` on its body).

use serde_json::{Value, json};

use super::display_name;
use crate::runner::ScenarioOutcome;

/// The page for `outcome`.
pub fn to_html(outcome: &ScenarioOutcome) -> String {
    let data = page_data(outcome).to_string().replace("</", "<\\/");
    let title = escape(&display_name(outcome));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p id=\"summary\"></p>\n<div id=\"chart\"></div>\n<h2>Expectations</h2>\n<table id=\"expectations\"><thead><tr><th>expectation</th><th>verdict</th><th>observed</th><th>what the probe saw</th></tr></thead><tbody></tbody></table>\n<script id=\"run\" type=\"application/json\">{data}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

/// A file name for `outcome`'s page: its display name with anything but letters, digits, `.`
/// and `-` as `_`.
pub fn file_name(outcome: &ScenarioOutcome) -> String {
    let name: String = display_name(outcome)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut joined = String::with_capacity(name.len());
    for c in name.trim_matches('_').chars() {
        if !(c == '_' && joined.ends_with('_')) {
            joined.push(c);
        }
    }
    format!("{joined}.html")
}

/// What the page draws, times in milliseconds from the run's start.
fn page_data(o: &ScenarioOutcome) -> Value {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let steady = o.steady_after.map_or(0.0, ms);
    let end = ms(o.duration);
    let faults: Vec<Value> = o
        .faults
        .iter()
        .map(|f| {
            let from = f.injected_after.map(|d| steady + ms(d));
            let to = match (from, f.active_for) {
                (Some(from), Some(active)) => Some(from + ms(active)),
                (Some(_), None) => Some(end),
                _ => None,
            };
            json!({
                "name": f.name, "kind": f.kind, "injected": f.injected,
                "from": from, "to": to,
                "ttd": f.time_to_detect.map(ms), "ttr": f.time_to_recover.map(ms),
            })
        })
        .collect();
    let probes: Vec<Value> = o
        .probes
        .iter()
        .map(|p| {
            let stretches: Vec<Value> = p
                .stretches
                .iter()
                .map(|s| {
                    json!({
                        "from": ms(s.from), "to": ms(s.to), "holds": s.holds,
                        "n": s.evaluations, "detail": s.detail,
                    })
                })
                .collect();
            json!({ "name": p.probe, "stretches": stretches })
        })
        .collect();
    let expectations: Vec<Value> = o
        .expectations
        .iter()
        .map(|e| {
            json!({
                "name": e.name, "probe": e.probe, "verdict": serde_json::to_value(e.verdict).unwrap_or(Value::Null),
                "observed": e.observed.map(ms), "detail": e.detail,
            })
        })
        .collect();
    let services: Vec<Value> = o
        .services
        .iter()
        .map(|s| json!({ "name": s.name, "at": ms(s.ready_after), "version": s.version }))
        .collect();
    json!({
        "name": display_name(o),
        "verdict": o.label(),
        "control": o.control,
        "openclaw": o.openclaw_version(),
        "duration": end,
        "steady": o.steady_after.map(ms),
        "error": o.error,
        "defect": o.known_defect.as_ref().map(|d| json!({
            "summary": d.summary, "report": d.report, "reproduced": d.reproduced,
        })),
        "services": services,
        "faults": faults,
        "probes": probes,
        "expectations": expectations,
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 4px; color: #fff; font-weight: 600; }
.PASS { background: #2e7d32; } .FAIL, .XPASS { background: #c62828; }
.XFAIL { background: #ef6c00; } .SKIP { background: #757575; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
.axis line { stroke: #ccc; } .axis text { fill: #666; }
.holds { fill: #66bb6a; } .fails { fill: #ef5350; }
.band { fill: #ffb74d; fill-opacity: .55; stroke: #ef6c00; }
.mark line { stroke-width: 2; } .ttd line { stroke: #1565c0; } .ttr line { stroke: #6a1b9a; }
.ttd text { fill: #1565c0; } .ttr text { fill: #6a1b9a; }
.service circle { fill: #1565c0; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.passed { color: #2e7d32; font-weight: 600; } td.failed { color: #c62828; font-weight: 600; }
";

const SCRIPT: &str = r#"
(function () {
  const run = JSON.parse(document.getElementById('run').textContent);
  const NS = 'http://www.w3.org/2000/svg';
  const el = (name, attrs, parent, text) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  };
  const secs = (ms) => (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  const summary = document.getElementById('summary');
  const badge = document.createElement('span');
  badge.className = 'badge ' + run.verdict;
  badge.textContent = run.verdict;
  summary.appendChild(badge);
  const facts = [
    run.control ? 'control run (faults off)' : null,
    run.openclaw ? 'OpenClaw ' + run.openclaw : null,
    'took ' + secs(run.duration),
    run.steady !== null ? 'steady state at ' + secs(run.steady) : 'no steady state',
    run.error ? 'error: ' + run.error : null,
    run.defect ? 'known defect: ' + run.defect.summary + ' (' + run.defect.report + ')' +
      (run.defect.reproduced ? ', reproduced' : ', not reproduced') : null,
  ].filter(Boolean);
  summary.appendChild(document.createTextNode(' ' + facts.join(' · ')));

  const LABEL = 240, WIDTH = 1100, ROW = 26, TOP = 30;
  const rows = 1 + run.faults.length + run.probes.length;
  const height = TOP + rows * ROW + 22;
  const svg = el('svg', { width: WIDTH, height: height, viewBox: `0 0 ${WIDTH} ${height}` },
    document.getElementById('chart'));
  const span = Math.max(run.duration, 1);
  const x = (ms) => LABEL + (Math.min(Math.max(ms, 0), span) / span) * (WIDTH - LABEL - 10);
  const axis = el('g', { class: 'axis' }, svg);
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => span / 1000 / s <= 12) || 1200;
  for (let t = 0; t * 1000 <= span; t += step) {
    el('line', { x1: x(t * 1000), x2: x(t * 1000), y1: TOP - 8, y2: height - 10 }, axis);
    el('text', { x: x(t * 1000) + 2, y: TOP - 12 }, axis, t + ' s');
  }
  let y = TOP;
  const label = (text, g) => el('text', { x: 4, y: y + 16 }, g, text);

  const services = el('g', { class: 'services' }, svg);
  label('services ready', services);
  for (const s of run.services) {
    const g = el('g', { class: 'service', 'data-service': s.name }, services);
    el('circle', { cx: x(s.at), cy: y + 12, r: 5 }, g);
    el('text', { x: x(s.at) + 7, y: y + 16 }, g, s.name);
    el('title', {}, g, `${s.name} ready at ${secs(s.at)}${s.version ? ' (' + s.version + ')' : ''}`);
  }
  y += ROW;

  for (const f of run.faults) {
    const g = el('g', { class: 'fault', 'data-fault': f.name }, svg);
    label('fault ' + f.name + ' (' + f.kind + ')', g);
    if (f.from !== null && f.injected) {
      const band = el('rect', { class: 'band', x: x(f.from), y: y + 3, height: ROW - 6,
        width: Math.max(x(f.to) - x(f.from), 2) }, g);
      el('title', {}, band, `${f.name}: ${secs(f.from)} to ${secs(f.to)}`);
      const mark = (cls, at, short, what) => {
        const m = el('g', { class: 'mark ' + cls }, g);
        el('line', { x1: x(at), x2: x(at), y1: TOP - 4, y2: height - 14 }, m);
        const right = x(at) > WIDTH - 120;
        el('text', { x: right ? x(at) - 3 : x(at) + 3, y: height - 2,
          'text-anchor': right ? 'end' : 'start' }, m, short);
        el('title', {}, m, what);
      };
      if (f.ttd !== null) mark('ttd', f.from + f.ttd, 'TTD ' + secs(f.ttd),
        `${f.name} detected ${secs(f.ttd)} after the injection`);
      if (f.ttr !== null) mark('ttr', f.to + f.ttr, 'TTR ' + secs(f.ttr),
        `recovered from ${f.name} ${secs(f.ttr)} after the heal`);
    } else {
      el('text', { x: LABEL + 4, y: y + 16 }, g, run.control ? 'off (control run)' : 'not injected');
    }
    y += ROW;
  }

  for (const p of run.probes) {
    const g = el('g', { class: 'lane', 'data-probe': p.name }, svg);
    label('probe ' + p.name, g);
    for (const s of p.stretches) {
      const r = el('rect', { class: s.holds ? 'holds' : 'fails', x: x(s.from), y: y + 5,
        height: ROW - 10, width: Math.max(x(s.to) - x(s.from), 2) }, g);
      el('title', {}, r, `${p.name} ${s.holds ? 'holds' : 'fails'} ${secs(s.from)} to ${secs(s.to)}` +
        ` (${s.n} evaluation${s.n === 1 ? '' : 's'}): ${s.detail}`);
    }
    y += ROW;
  }

  const body = document.querySelector('#expectations tbody');
  for (const e of run.expectations) {
    const tr = document.createElement('tr');
    for (const [text, cls] of [[e.name, ''], [e.verdict, e.verdict],
      [e.observed === null ? '-' : secs(e.observed), ''], [e.detail, '']]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  document.body.dataset.lanes = String(run.probes.length);
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_run_and_nothing_from_elsewhere() {
        let mut outcome = crate::report::fixtures::outcomes().remove(0);
        outcome.openclaw = Some("2026.7.1".into());
        outcome.probes = vec![crate::runner::ProbeTrace {
            probe: "llm_slow".into(),
            stretches: vec![crate::runner::Stretch {
                from: std::time::Duration::from_millis(100),
                to: std::time::Duration::from_millis(900),
                holds: false,
                evaluations: 8,
                detail: "status 200 in 12ms </script><b>".into(),
            }],
        }];
        let page = to_html(&outcome);
        assert!(page.contains("<title>selftest/latency @2026.7.1</title>"));
        assert!(page.contains("\"openclaw\":\"2026.7.1\""));
        assert!(
            !page.contains("</script><b>"),
            "a detail cannot end the data script"
        );
        assert!(
            !page.contains(" src=") && !page.contains("<link"),
            "nothing fetched: no external script, image or style"
        );
        assert_eq!(file_name(&outcome), "selftest_latency_2026.7.1.html");
    }
}
