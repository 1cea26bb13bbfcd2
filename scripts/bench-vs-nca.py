#!/usr/bin/env python3
"""Side-by-side timing of podwall and IBM's network-config-analyzer (NCA) on the same
synthetic clusters, at growing sizes.

For each size N (pods; namespaces = N/10, policies = N/5, seed 1) the cluster is written by
`podwall-bench gen`, then the tools run alternately, end to end (process start, reading the
folder, computing, writing the result):

  podwall matrix -f DIR --port 8080 --protocol TCP -o json > /dev/null     (one port)
  podwall matrix -f DIR -o json > /dev/null                                  (every declared port)
  nca --connectivity --resource_list DIR -o txt_no_fw_rules -f /dev/null   (every pod and
      address-range pair, every protocol and port: NCA has no per-port query)
  podwall, both commands again
  ... for --rounds rounds when NCA's first run took under --repeat-below seconds, else once;
  then podwall-bench run DIR (phase timings). Figures are medians over the rounds.

NCA is stopped after --timeout seconds (default 600); larger sizes are then skipped for NCA.
Wall-clock seconds come from time.perf_counter around each process, started directly
(no wrapper); peak memory from wait4's rusage. Pass the real `nca` script, not a
version-manager shim, which adds its own start-up time to NCA's. The 1-minute load average is printed before each size
(the machine may be shared).  Output: a Markdown table on stdout (and --out FILE).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, timeout=None, stdout=subprocess.DEVNULL):
    """-> (seconds, peak KiB or None, completed: bool, output text or None)

    The process is started directly (no wrapper, so the fast tool is not charged for a
    second process start) and reaped with wait4, which gives its peak resident size."""
    env = dict(os.environ, KUBECONFIG="/nonexistent/kubeconfig")
    capture = stdout == subprocess.PIPE
    out_file = tempfile.TemporaryFile() if capture else None
    err_file = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=out_file if capture else stdout, stderr=err_file, env=env)
    timer = threading.Timer(timeout, p.kill) if timeout else None
    if timer:
        timer.start()
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    if timer:
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    timed_out = timeout is not None and secs >= timeout
    ok = p.returncode == 0 and not timed_out
    if not ok and not timed_out:
        err_file.seek(0)
        err = err_file.read().decode(errors="replace")
        print(f"  ! {' '.join(cmd)} exited {p.returncode}: {err[-500:]}", file=sys.stderr)
    out = None
    if capture:
        out_file.seek(0)
        out = out_file.read().decode(errors="replace")
    return secs, usage.ru_maxrss, ok, out


def real_nca():
    """The nca script itself: a pyenv shim would add a shell and pyenv to every NCA run."""
    found = shutil.which("nca") or "nca"
    if "/shims/" in found:
        r = subprocess.run(["pyenv", "which", "nca"], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
    return found


def fmt_s(x):
    return "-" if x is None else (f"{x:.4f}" if x < 0.1 else f"{x:.3f}" if x < 10 else f"{x:.1f}")


def fmt_mib(k):
    return "-" if k is None else f"{k / 1024:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,300,1000,3000,10000")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before NCA is stopped")
    ap.add_argument("--rounds", type=int, default=5,
                    help="alternating rounds (NCA, then podwall) for sizes NCA finishes quickly")
    ap.add_argument("--repeat-below", type=float, default=120.0,
                    help="sizes where NCA's first run takes less than this get --rounds rounds")
    ap.add_argument("--podwall", default=os.path.join(ROOT, "target", "release", "podwall"),
                    help="the podwall binary; podwall-bench is taken from beside it")
    ap.add_argument("--nca", default=os.environ.get("NCA") or real_nca())
    ap.add_argument("--work", help="folder for the clusters (default: a temporary one, removed)")
    ap.add_argument("--out", help="also write the Markdown table here")
    args = ap.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="bench-vs-nca-")
    os.makedirs(work, exist_ok=True)
    pw = args.podwall
    nca_alive = True
    rows = []
    notes = []
    for n in [int(x) for x in args.sizes.split(",")]:
        ns, pol = max(1, n // 10), max(1, n // 5)
        folder = os.path.join(work, f"n{n}")
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([pw + "-bench", "gen", "--pods", str(n), "--namespaces", str(ns), "--policies",
                        str(pol), "--seed", str(args.seed), "-o", folder], check=True,
                       stdout=subprocess.DEVNULL)
        load = os.getloadavg()[0]
        print(f"== {n} pods, {ns} namespaces, {pol} policies (load average {load:.2f})", flush=True)
        matrix = [pw, "matrix", "-f", folder, "--port", str(args.port), "--protocol", "TCP", "-o", "json"]
        nca_cmd = [args.nca, "--connectivity", "--resource_list", folder, "--output_format",
                   "txt_no_fw_rules", "--file_out", "/dev/null"]
        all_ports = [pw, "matrix", "-f", folder, "-o", "json"]
        pw_times, pw_mem, nca_times, nca_mem, all_times = [], [], [], [], []

        def podwall_round():
            s, k, _, _ = timed(matrix)
            pw_times.append(s)
            pw_mem.append(k)
            s, k, _, _ = timed(all_ports)
            all_times.append(s)
            pw_mem.append(k)

        podwall_round()
        print(f"  podwall matrix one port: {pw_times[-1]:.4f} s, every declared port: {all_times[-1]:.4f} s", flush=True)
        nca_status = "skipped"
        rounds = 1
        while nca_alive and rounds <= args.rounds:
            s, k, ok, _ = timed(nca_cmd, timeout=args.timeout)
            if not ok:
                nca_status = f"timeout>{args.timeout:.0f}s" if s >= args.timeout else "failed"
                print(f"  NCA: {nca_status} after {s:.1f} s", flush=True)
                nca_alive = False
                break
            nca_times.append(s)
            nca_mem.append(k)
            nca_status = "ok"
            print(f"  NCA connectivity map: {s:.2f} s", flush=True)
            podwall_round()
            # Quick sizes are measured several times, alternating; slow ones once.
            rounds += 1
            if nca_times[0] >= args.repeat_below:
                break
        all_s = statistics.median(all_times)
        all_k = max(k for k in pw_mem if k) if any(pw_mem) else None
        print(f"  podwall medians: one port {statistics.median(pw_times):.4f} s, every declared port {all_s:.4f} s", flush=True)
        bench_s, _, _, bench_out = timed([pw + "-bench", "run", folder], stdout=subprocess.PIPE)
        pw_med = statistics.median(pw_times)
        nca_med = statistics.median(nca_times) if nca_times else None
        rows.append({
            "n": n, "ns": ns, "pol": pol, "load": load,
            "pw": pw_med, "pw_runs": len(pw_times), "pw_mem": max(m for m in pw_mem if m) if any(pw_mem) else None,
            "pw_all": all_s, "pw_all_mem": all_k, "bench": bench_s,
            "nca": nca_med, "nca_runs": len(nca_times), "nca_status": nca_status,
            "nca_mem": max(m for m in nca_mem if m) if any(nca_mem) else None,
        })
        if bench_out:
            notes.append(f"### podwall-bench run, {n} pods\n\n```\n{bench_out.strip()}\n```\n")
        if not args.work:
            shutil.rmtree(folder, ignore_errors=True)

    lines = [
        "| pods | namespaces | policies | load avg | podwall matrix 1 port (s) | podwall matrix all ports (s) "
        "| podwall-bench run (s) | NCA connectivity map (s) | NCA / podwall 1 port | NCA / podwall all ports "
        "| podwall peak MiB | NCA peak MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["nca"] is not None:
            nca_txt = f"{fmt_s(r['nca'])} ({r['nca_runs']} run{'s' if r['nca_runs'] > 1 else ''})"
            ratio1 = f"{r['nca'] / r['pw']:.0f}x"
            ratio2 = f"{r['nca'] / r['pw_all']:.0f}x"
        else:
            nca_txt, ratio1, ratio2 = r["nca_status"], "-", "-"
        lines.append(
            f"| {r['n']} | {r['ns']} | {r['pol']} | {r['load']:.2f} | {fmt_s(r['pw'])} (median of {r['pw_runs']}) "
            f"| {fmt_s(r['pw_all'])} (median of {r['pw_runs']}) | {fmt_s(r['bench'])} | {nca_txt} | {ratio1} | {ratio2} "
            f"| {fmt_mib(max(x for x in (r['pw_mem'], r['pw_all_mem']) if x) if (r['pw_mem'] or r['pw_all_mem']) else None)} "
            f"| {fmt_mib(r['nca_mem'])} |")
    table = "\n".join(lines)
    print()
    print(table)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(table + "\n\n" + "\n".join(notes))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
