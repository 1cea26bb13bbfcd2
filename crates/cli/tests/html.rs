//! `podwall analyze --format html`: one page holding every finding of the example
//! cluster with its place, and the reachability graph; names from the input cannot
//! become markup; and a browser (headless Chromium) draws the page, and hides what an
//! unticked filter box stands for. The browser tests say so and pass where Chromium (or
//! pdftotext, which reads what it printed) cannot run, unless
//! PODWALL_REQUIRE_PRIVILEGED_TESTS=1, where they fail.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn podwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .output()
        .expect("run podwall")
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("podwall-html-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn html_of(folder: &str, file: &Path) -> String {
    let out = podwall(&["analyze", "-f", folder, "--format", "html", "-o", file.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(file).expect("the page is written")
}

fn escaped(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[test]
fn the_page_holds_every_finding_of_the_json_report_with_its_place_and_the_graph() {
    let dir = temp_dir("example");
    let page = html_of("examples/", &dir.join("report.html"));
    let json = podwall(&["analyze", "-f", "examples/", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON report");
    let findings = v["findings"].as_array().expect("findings");
    assert!(findings.len() > 10);
    for f in findings {
        let id = f["id"].as_str().expect("id");
        assert!(page.contains(&format!("<code>{id}</code>")), "{id} has a group");
        // Findings about a namespace the input never declared have no place.
        let place = match f["origin"]["file"].as_str() {
            Some(file) => format!("{file}:{}", f["origin"]["line"]),
            None => String::new(),
        };
        assert!(page.contains(&format!("<td class=\"where\">{}</td>", escaped(&place))), "{id} at {place}");
        assert!(page.contains(&escaped(f["message"].as_str().expect("message"))), "{id}: its message");
    }
    let until_pods = &page[..page.find("<h2>Pods</h2>").expect("the pods section")];
    let rows = until_pods.matches("<tr><td class=\"object\">").count();
    assert_eq!(rows, findings.len(), "one row per finding");
    // The graph is the same SVG `podwall graph` draws, inline.
    let svg = podwall(&["graph", "-f", "examples/", "--format", "svg"]);
    assert!(page.contains(String::from_utf8_lossy(&svg.stdout).as_ref()), "the namespace graph is embedded");
    assert!(page.contains(">TCP/9090</text>"), "monitoring scrapes shop on 9090");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_script_tag_in_an_input_name_stays_text() {
    let dir = temp_dir("script");
    let input = dir.join("<script>alert(1)</script>");
    std::fs::create_dir_all(&input).expect("input folder");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {containers: [{name: c, image: nginx}]}\n";
    std::fs::write(input.join("pod.yaml"), pod).expect("manifest");
    let page = html_of(input.to_str().expect("UTF-8 path"), &dir.join("report.html"));
    // The page's own script is its only one.
    assert_eq!(page.to_lowercase().matches("<script").count(), 1, "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;/pod.yaml:1"), "the file name is shown, escaped");
    std::fs::remove_dir_all(&dir).ok();
}

fn required() -> bool {
    std::env::var("PODWALL_REQUIRE_PRIVILEGED_TESTS").is_ok_and(|v| v == "1")
}

/// A headless Chromium screenshot of the page, `width` × `height`: the PNG's bytes, or
/// why none was made.
fn screenshot(page: &Path, png: &Path, width: u32, height: u32) -> Result<Vec<u8>, String> {
    let profile = png.with_extension("profile");
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run chromium: {e}"))?;
    std::fs::read(png)
        .map_err(|e| format!("no screenshot ({e}); chromium said: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "IHDR first");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    (word(16), word(20))
}

#[test]
fn headless_chromium_draws_the_report() {
    let dir = temp_dir("chromium");
    let page = dir.join("report.html");
    html_of("examples/", &page);
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!doctype html><html><body></body></html>\n").expect("blank page");
    let report = match screenshot(&page, &dir.join("report.png"), 1280, 2000) {
        Ok(png) => png,
        Err(e) if required() => panic!("headless chromium is required here (PODWALL_REQUIRE_PRIVILEGED_TESTS=1): {e}"),
        Err(e) => {
            eprintln!("skipped: {e}; set PODWALL_REQUIRE_PRIVILEGED_TESTS=1 to fail instead");
            return;
        }
    };
    let empty = screenshot(&blank, &dir.join("blank.png"), 1280, 2000).expect("a blank page is drawn too");
    assert_eq!(png_size(&report), (1280, 2000));
    assert_eq!(png_size(&empty), (1280, 2000));
    // A drawn page compresses far worse than a white one.
    assert!(report.len() > 10 * empty.len(), "report {} bytes, blank {} bytes", report.len(), empty.len());
    std::fs::remove_dir_all(&dir).ok();
}

/// The text headless Chromium prints of the page (to PDF, read back with pdftotext):
/// what it lays out, so nothing the page's CSS hides.
fn printed_text(page: &Path) -> Result<String, String> {
    let pdf = page.with_extension("pdf");
    let profile = page.with_extension("profile");
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-pdf-header-footer"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run chromium: {e}"))?;
    if !pdf.exists() {
        return Err(format!("no PDF; chromium said: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run pdftotext: {e}"))?;
    if !text.status.success() {
        return Err(format!("pdftotext failed: {}", String::from_utf8_lossy(&text.stderr)));
    }
    Ok(String::from_utf8_lossy(&text.stdout).into_owned())
}

#[test]
fn an_unticked_filter_hides_its_severity_or_area_and_nothing_else() {
    let dir = temp_dir("filters");
    let page = html_of("examples/", &dir.join("report.html"));
    // The example holds one critical finding (RB101, an RBAC grant) and lint findings.
    let untick = |id: &str| {
        let ticked = format!("id=\"{id}\" checked>");
        assert!(page.contains(&ticked), "the box {id} is on the page, ticked");
        let file = dir.join(format!("{id}.html"));
        std::fs::write(&file, page.replace(&ticked, &format!("id=\"{id}\">"))).expect("variant");
        file
    };
    let read = |file: &Path| match printed_text(file) {
        Ok(text) => Some(text),
        Err(e) if required() => panic!("headless chromium and pdftotext are required here: {e}"),
        Err(e) => {
            eprintln!("skipped: {e}; set PODWALL_REQUIRE_PRIVILEGED_TESTS=1 to fail instead");
            None
        }
    };
    let all = dir.join("all.html");
    std::fs::write(&all, &page).expect("page");
    let Some(everything) = read(&all) else { return };
    let no_critical = read(&untick("show-critical")).expect("printed once, printed again");
    let no_lint = read(&untick("area-lint")).expect("printed once, printed again");
    let lint_ids = |t: &str| t.matches("PL0").count();
    assert!(everything.contains("RB101") && lint_ids(&everything) > 0, "{everything}");
    assert!(!no_critical.contains("RB101"), "the critical section is hidden\n{no_critical}");
    assert_eq!(lint_ids(&no_critical), lint_ids(&everything), "lint findings are not critical");
    assert_eq!(lint_ids(&no_lint), 0, "every lint group is hidden\n{no_lint}");
    assert!(no_lint.contains("RB101") && no_lint.contains("NP0"), "other areas stay\n{no_lint}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The page as headless Chromium leaves it after its scripts ran (`--dump-dom`), and
/// what Chromium logged (console messages come as `:CONSOLE` lines).
fn dom_after_scripts(page: &Path) -> Result<(String, String), String> {
    let profile = page.with_extension("dom-profile");
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run chromium: {e}"))?;
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    if !dom.contains("</html>") {
        return Err(format!("no DOM; chromium said: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok((dom, String::from_utf8_lossy(&out.stderr).into_owned()))
}

fn dom_or_skip(page: &Path) -> Option<(String, String)> {
    match dom_after_scripts(page) {
        Ok(d) => Some(d),
        Err(e) if required() => panic!("headless chromium is required here (PODWALL_REQUIRE_PRIVILEGED_TESTS=1): {e}"),
        Err(e) => {
            eprintln!("skipped: {e}; set PODWALL_REQUIRE_PRIVILEGED_TESTS=1 to fail instead");
            None
        }
    }
}

/// The cells of each row of the pods table, as text, heading row first.
fn pod_rows(page: &str) -> Vec<Vec<String>> {
    let start = page.find("<table class=\"pods\">").expect("a pods table");
    let table = &page[start..start + page[start..].find("</table>").expect("table end")];
    table
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("</t")
                .filter_map(|cell| cell.rsplit_once('>').map(|(_, text)| text.trim().to_string()))
                .filter(|text| !text.is_empty())
                .collect()
        })
        .collect()
}

#[test]
fn the_pods_table_gives_the_numbers_of_matrix_summary() {
    let dir = temp_dir("pods");
    let page = html_of("examples/", &dir.join("report.html"));
    let out = podwall(&["matrix", "-f", "examples/", "--summary", "-o", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    let rows = pod_rows(&page);
    let word = |isolated: &serde_json::Value| if isolated == true { "isolated" } else { "open" };
    let mut seen = 0;
    for pod in summary.as_array().expect("rows") {
        let name = pod["pod"].as_str().expect("pod");
        let row = rows.iter().find(|r| r[0] == name).unwrap_or_else(|| panic!("{name} has a row: {rows:?}"));
        let mut want = vec![name.to_string(), "1".into()];
        want.push(word(&pod["isolated"]["ingress"]).into());
        want.push(word(&pod["isolated"]["egress"]).into());
        for p in pod["ports"].as_array().expect("ports") {
            want.push(p["reaches"].to_string());
            want.push(p["reached_by"].to_string());
        }
        assert_eq!(row, &want, "{name}");
        seen += 1;
    }
    assert_eq!(seen, rows.len() - 1, "a row for each pod, none else");
    assert!(seen > 5, "the example has its pods");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_script_runs_under_the_pages_own_policy_and_logs_nothing() {
    let dir = temp_dir("script-runs");
    let file = dir.join("report.html");
    let page = html_of("examples/", &file);
    let Some((dom, log)) = dom_or_skip(&file) else { return };
    // The script makes every heading focusable: it ran, so the policy's hash let it.
    let headings = page.matches("<th>").count();
    assert!(headings > 10, "the page has sortable tables");
    assert_eq!(dom.matches("<th tabindex=\"0\"").count(), headings, "every heading was made sortable");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    // A page whose policy names another hash runs nothing, and says so on the console.
    let hash = page.split("script-src '").nth(1).and_then(|r| r.split('\'').next()).expect("a script hash");
    let refused = dir.join("refused.html");
    std::fs::write(&refused, page.replace(hash, "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
        .expect("variant");
    let (dom, log) = dom_after_scripts(&refused).expect("chromium ran once");
    assert_eq!(dom.matches("<th tabindex=\"0\"").count(), 0);
    assert!(log.contains(":CONSOLE"), "the refusal is on the console: {log}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_click_on_a_heading_sorts_by_that_column_and_a_second_click_reverses() {
    let dir = temp_dir("sort");
    let page = html_of("examples/", &dir.join("report.html"));
    let heading = pod_rows(&page)[0].iter().position(|h| h == "TCP/53 in").expect("a TCP/53 in column");
    // The page with its policy left out, and a click (or two) on that heading after the
    // page's script has run.
    let clicked = |times: usize| {
        let csp = page.find("<meta http-equiv=\"Content-Security-Policy\"").expect("a policy");
        let end = csp + page[csp..].find('>').expect("meta end") + 1;
        let click = format!(
            "<script>var th = document.querySelectorAll('table.pods th')[{heading}]; for (var i = 0; i < {times}; i++) th.click();</script></body>"
        );
        let variant = format!("{}{}", &page[..csp], &page[end..]).replace("</body>", &click);
        let file = dir.join(format!("clicked-{times}.html"));
        std::fs::write(&file, variant).expect("variant");
        file
    };
    let Some((once, _)) = dom_or_skip(&clicked(1)) else { return };
    let (twice, _) = dom_after_scripts(&clicked(2)).expect("chromium ran once");
    let column =
        |dom: &str| -> Vec<u64> { pod_rows(dom)[1..].iter().map(|r| r[heading].parse().expect("a number")).collect() };
    let (up, down) = (column(&once), column(&twice));
    let unsorted = column(&page);
    assert!(up.windows(2).all(|w| w[0] <= w[1]), "ascending: {up:?}");
    assert!(down.windows(2).all(|w| w[0] >= w[1]), "descending: {down:?}");
    assert_ne!(unsorted, up, "the example's column is not sorted to begin with");
    let mut same = unsorted.clone();
    same.sort_unstable();
    assert_eq!(same, up, "the same rows, reordered");
    std::fs::remove_dir_all(&dir).ok();
}
