#!/usr/bin/env python3
"""Runs zmsg's ports of libzmq's perf tools and the C++ originals side by side.

Started by `bench/run` (which sets up the venv). Steps:
  1. `cargo build --release -p zmsg-perf` (the Rust ports), reading from cargo's JSON messages
     where the build scripts put libzmq.a (zmsg-sys) and libsodium.a (libsodium-sys-stable);
  2. g++ -O2 of libzmq's own perf/*.cpp (from the zeromq-src crate cargo downloaded) against
     those same two static libraries, into bench/out/c/;
  3. for every transport, test (throughput, latency) and message size, C and zmsg are run one
     after the other (the order alternates), the whole sweep repeated --runs times; the table
     shows the median of each and the ratio zmsg/C;
  4. bench/out/results.json and results.md, the plot bench/out/perf.{png,svg}, copied to
     docs/img/, and (full runs) the figures section of docs/performance.md.

Message counts (per run) are chosen so that a run lasts about 0.2-1 s on a 2-core machine:
  throughput: 400 MB / size messages, clamped to [10,000, 1,000,000] (tcp, ipc); twice that
              for inproc, clamped to [20,000, 2,000,000];
  latency:    10,000 round trips (tcp, ipc), 20,000 (inproc), halved from 16 KiB up.
Over ipc the throughput sender is told to send 2 x count + 100,000 messages and is stopped once
the receiver has counted its own; otherwise the receiver waits forever: libzmq 4.3.5 loses an ipc sender's last buffered messages at close (issue #4660).

`--async` runs the async comparison instead (docs/performance.md, "Async (tokio)"): blocking zmsg,
zmsg's AsyncSocket on tokio and zmq.rs (crate `zeromq`) over tcp://127.0.0.1, each program with
both ends in one process (perf/src/bin/{blocking,async,zmqrs}_{thr,lat}.rs), interleaved, with the
same counts as above; it writes bench/out/async.{json,md,png,svg} and (full runs) docs/img/async.*
and the "Async (tokio)" figures of docs/performance.md.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DOCS_IMG = ROOT / "docs" / "img"
DOC = ROOT / "docs" / "performance.md"
PROGRAMS = ["local_thr", "remote_thr", "local_lat", "remote_lat", "inproc_thr", "inproc_lat"]
SIZES = [1, 16, 256, 1024, 4096, 16384, 65536]
QUICK_SIZES = [1, 256, 4096, 65536]
TRANSPORTS = ["tcp", "ipc", "inproc"]
KINDS = ["thr", "lat"]
IMPLS = ["c", "zmsg"]
IPC_SLACK = 100_000  # extra messages an ipc throughput sender may send (see Runner.run)
RUN_TIMEOUT = 120  # seconds any single program may take before the run counts as failed
THR_BAR = 0.95
LAT_BAR = 1.05


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Build


def cargo_build(packages, bins=True):
    """Builds `packages` in release; returns (executables by name, build-script outputs)."""
    cmd = ["cargo", "build", "--release", "--message-format=json-render-diagnostics"]
    for package in packages:
        cmd += ["-p", package]
    if bins:
        cmd.append("--bins")
    log("$", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit("bench: cargo build failed")
    executables, scripts = {}, {}
    for line in proc.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            executables[message["target"]["name"]] = Path(message["executable"])
        if message.get("reason") == "build-script-executed":
            scripts[message["package_id"]] = message
    return executables, scripts


def find_static_libs(scripts):
    """libzmq.a, libsodium.a and the folder holding platform.hpp, from zmsg-sys's build script."""
    for package_id, message in scripts.items():
        if "zmsg-sys" not in package_id:
            continue
        out_dir = Path(message["out_dir"])
        libzmq = out_dir / "lib" / "libzmq.a"
        sodium = None
        for path in message.get("linked_paths", []):
            candidate = Path(path.split("=", 1)[-1]) / "libsodium.a"
            if candidate.exists():
                sodium = candidate
        if libzmq.exists() and sodium and (out_dir / "platform.hpp").exists():
            return libzmq, sodium, out_dir
    sys.exit("bench: could not find libzmq.a/libsodium.a from zmsg-sys's build (vendored build?)")


def zeromq_src_perf_dir():
    """The perf/ folder of the zeromq-src crate that our libzmq.a was built from."""
    proc = subprocess.run(
        ["cargo", "metadata", "--format-version", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
    )
    for package in json.loads(proc.stdout)["packages"]:
        if package["name"] == "zeromq-src":
            perf = Path(package["manifest_path"]).parent / "vendor" / "perf"
            if perf.is_dir():
                return perf, package["version"]
    sys.exit("bench: zeromq-src's perf/ sources not found (cargo fetch?)")


def build_c_tools(libzmq, sodium, platform_dir):
    perf_dir, version = zeromq_src_perf_dir()
    c_dir = OUT / "c"
    c_dir.mkdir(parents=True, exist_ok=True)
    cxx = os.environ.get("CXX", "c++")
    tools = {}
    for name in PROGRAMS:
        source = perf_dir / f"{name}.cpp"
        target = c_dir / name
        newest_input = max(source.stat().st_mtime, libzmq.stat().st_mtime, sodium.stat().st_mtime)
        if not target.exists() or target.stat().st_mtime < newest_input:
            cmd = [cxx, "-O2", f"-I{platform_dir}", str(source), "-o", str(target),
                   str(libzmq), str(sodium), "-lpthread"]
            log("$", " ".join(cmd))
            subprocess.run(cmd, check=True)
        tools[name] = target
    return tools, version


# ----------------------------------------------------------------------------------------------
# Running


def thr_count(size, transport):
    if transport == "inproc":
        return max(20_000, min(2_000_000, 800_000_000 // size))
    return max(10_000, min(1_000_000, 400_000_000 // size))


def lat_count(size, transport):
    count = 20_000 if transport == "inproc" else 10_000
    return count // 2 if size >= 16384 else count


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tcp_listening(port):
    """True once something listens on 127.0.0.1:port (read from /proc/net/tcp, no probe)."""
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                local, state = fields[1], fields[3]
                if state == "0A" and int(local.split(":")[1], 16) == port:
                    return True
        return False
    except OSError:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_bound(transport, address, server, limit=10.0):
    """Waits until the server process has bound (so a client's first message sees no reconnect
    delay); gives up after `limit` seconds or if the server died."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        if transport == "tcp" and tcp_listening(address):
            return True
        if transport == "ipc" and os.path.exists(address):
            return True
        time.sleep(0.002)
    return False


THR_RE = re.compile(r"mean throughput: (\d+) \[msg/s\]")
LAT_RE = re.compile(r"average latency: ([\d.]+) \[us\]")


def parse(kind, text):
    match = (THR_RE if kind == "thr" else LAT_RE).search(text or "")
    return float(match.group(1)) if match else None


class Runner:
    def __init__(self, tools, run_id):
        self.tools = tools  # impl -> program name -> path
        self.run_id = run_id
        self.serial = 0
        self.sleepers = []  # local_lat processes in their final 1 s sleep

    def endpoint(self, transport):
        self.serial += 1
        if transport == "tcp":
            port = free_port()
            return f"tcp://127.0.0.1:{port}", port
        path = f"/tmp/zmsg-bench-{self.run_id}-{self.serial}.ipc"
        return f"ipc://{path}", path

    def run(self, impl, transport, kind, size, count):
        tools = self.tools[impl]
        if transport == "inproc":
            try:
                proc = subprocess.run([str(tools[f"inproc_{kind}"]), str(size), str(count)],
                                      stdout=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                return None
            return parse(kind, proc.stdout)

        server_name, client_name = (("local_thr", "remote_thr") if kind == "thr"
                                    else ("local_lat", "remote_lat"))
        endpoint, address = self.endpoint(transport)
        args = [endpoint, str(size), str(count)]
        client_count = count
        if kind == "thr" and transport == "ipc":
            # libzmq 4.3.5 drops the tail of what an ipc sender still buffers when it closes,
            # linger or not (libzmq issue #4660), so local_thr would wait forever for the last
            # messages. The sender (C or zmsg alike) is told to send twice as many plus
            # IPC_SLACK, and is stopped once the receiver has counted its messages.
            client_count = 2 * count + IPC_SLACK
        server = subprocess.Popen([str(tools[server_name])] + args, stdout=subprocess.PIPE, text=True)
        if not wait_bound(transport, address, server):
            server.kill()
            server.communicate()
            return None
        client = subprocess.Popen([str(tools[client_name]), endpoint, str(size), str(client_count)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            if kind == "thr":
                out, _ = server.communicate(timeout=RUN_TIMEOUT)
                if client_count != count:
                    client.kill()
                client.communicate(timeout=RUN_TIMEOUT)
            else:
                out, _ = client.communicate(timeout=RUN_TIMEOUT)
                # local_lat sleeps 1 s before exiting (as libzmq's does); let it, in the background.
                self.sleepers.append((server, address if transport == "ipc" else None))
        except subprocess.TimeoutExpired:
            for proc in (server, client):
                proc.kill()
                proc.communicate()
            return None
        if kind == "thr" and transport == "ipc":
            remove_quietly(address)
        self.reap(block=False)
        return parse(kind, out)

    def reap(self, block):
        still = []
        for proc, path in self.sleepers:
            if block:
                try:
                    proc.communicate(timeout=RUN_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
            if proc.poll() is None:
                still.append((proc, path))
            else:
                proc.communicate()
                if path:
                    remove_quietly(path)
        self.sleepers = still


def remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# ----------------------------------------------------------------------------------------------
# Instruction counts: callgrind counts the instructions a run executes, which other load on the
# machine does not change. Running each inproc program with two counts and dividing the
# difference by the difference of the counts gives instructions per message (or round trip),
# start-up and shut-down cancelled out.

CALLGRIND_SIZES = [1, 256, 65536]
CALLGRIND_COUNTS = {"thr": (50_000, 100_000), "lat": (5_000, 10_000)}
CALLGRIND_RE = re.compile(r"Collected : (\d+)")


def callgrind_instructions(program, size, count):
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           str(program), str(size), str(count)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=600)
    match = CALLGRIND_RE.search(proc.stderr)
    return int(match.group(1)) if match else None


def instruction_counts(tools, sizes):
    rows = []
    for kind in KINDS:
        for size in sizes:
            row = {"kind": kind, "size": size}
            small, large = CALLGRIND_COUNTS[kind]
            for impl in IMPLS:
                # Thread wake-ups vary a little from run to run: take the median of three.
                program = tools[impl][f"inproc_{kind}"]
                values = []
                for _ in range(3):
                    a = callgrind_instructions(program, size, small)
                    b = callgrind_instructions(program, size, large)
                    if a and b:
                        values.append((b - a) / (large - small))
                row[impl] = statistics.median(values) if values else None
            row["ratio"] = row["zmsg"] / row["c"] if row["c"] and row["zmsg"] else None
            log(f"callgrind inproc_{kind} {human_size(size)}: C {row['c']}, zmsg {row['zmsg']}")
            rows.append(row)
    return rows


def instructions_markdown(rows):
    lines = ["**Instructions per message** (inproc, sender + receiver; per round trip for latency), "
             "counted by callgrind (median of 3): independent of the machine's load", "",
             "| test | size | C | zmsg | ratio |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        name = "throughput" if row["kind"] == "thr" else "latency"
        c = f"{row['c']:,.0f}" if row["c"] else "n/a"
        z = f"{row['zmsg']:,.0f}" if row["zmsg"] else "n/a"
        lines.append(f"| {name} | {human_size(row['size'])} | {c} | {z} | {fmt_ratio(row['ratio'])} |")
    lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Reporting


def machine_info():
    info = {"nproc": os.cpu_count(), "model": "unknown", "kernel": os.uname().release}
    try:
        for line in subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                info["model"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as meminfo:
            info["mem_gib"] = round(int(meminfo.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        info["rustc"] = subprocess.run(["rustc", "--version"], stdout=subprocess.PIPE,
                                       text=True).stdout.strip()
        info["cxx"] = subprocess.run([os.environ.get("CXX", "c++"), "--version"],
                                     stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
        info["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True).stdout.strip()
    except (OSError, IndexError):
        pass
    return info


def human_size(size):
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def summarize(results):
    rows = []
    for (transport, kind, size), runs in results.items():
        c_runs = [v for v in runs["c"] if v is not None]
        z_runs = [v for v in runs["zmsg"] if v is not None]
        c_med = statistics.median(c_runs) if c_runs else None
        z_med = statistics.median(z_runs) if z_runs else None
        ratio = z_med / c_med if c_med and z_med else None
        # Two more views of the same runs, to tell noise from a real difference: the median of
        # the per-run ratios (C and zmsg of one run ran back to back, under the same load), and
        # the ratio of the best runs (least disturbed by other work on the machine).
        pairs = [z / c for c, z in zip(runs["c"], runs["zmsg"]) if c and z]
        paired = statistics.median(pairs) if pairs else None
        best = None
        if c_runs and z_runs:
            best = (max(z_runs) / max(c_runs)) if kind == "thr" else (min(z_runs) / min(c_runs))
        if ratio is None:
            verdict = "n/a"
        elif kind == "thr":
            verdict = "ok" if ratio >= THR_BAR else "MISS"
        else:
            verdict = "ok" if ratio <= LAT_BAR else "MISS"
        rows.append({"transport": transport, "kind": kind, "size": size, "c": c_med,
                     "zmsg": z_med, "ratio": ratio, "paired": paired, "best": best,
                     "verdict": verdict,
                     "c_runs": runs["c"], "zmsg_runs": runs["zmsg"]})
    return rows


def fmt_value(kind, value):
    if value is None:
        return "failed"
    return f"{value:,.0f}" if kind == "thr" else f"{value:.2f}"


def tables_markdown(rows, runs):
    lines = []
    for kind, title, unit, bar in (("thr", "Throughput", "msg/s", f"bar: ratio >= {THR_BAR}"),
                                   ("lat", "Latency (one way)", "us", f"bar: ratio <= {LAT_BAR}")):
        lines.append(f"**{title}**, {unit}, median of {runs} run(s); ratio = zmsg / C of the "
                     f"medians ({bar}); paired = median of the per-run ratios; best = ratio of "
                     "the best runs")
        lines.append("")
        lines.append("| transport | size | C | zmsg | ratio | | paired | best |")
        lines.append("|---|---:|---:|---:|---:|---|---:|---:|")
        for row in rows:
            if row["kind"] != kind:
                continue
            lines.append(f"| {row['transport']} | {human_size(row['size'])} | "
                         f"{fmt_value(kind, row['c'])} | {fmt_value(kind, row['zmsg'])} | "
                         f"{fmt_ratio(row['ratio'])} | {row['verdict']} | "
                         f"{fmt_ratio(row['paired'])} | {fmt_ratio(row['best'])} |")
        lines.append("")
    return "\n".join(lines)


def fmt_ratio(value):
    return f"{value:.3f}" if value else "n/a"


def print_tables(rows, runs):
    for kind, title in (("thr", "THROUGHPUT [msg/s]"), ("lat", "LATENCY [us, one way]")):
        print(f"\n{title}  (median of {runs}; ratio = zmsg/C of the medians; paired = median "
              "of per-run ratios; best = ratio of the best runs)")
        print(f"{'transport':<9} {'size':>8} {'C':>14} {'zmsg':>14} {'ratio':>7} {'':4} "
              f"{'paired':>7} {'best':>7}")
        for row in rows:
            if row["kind"] != kind:
                continue
            verdict = row["verdict"] if row["verdict"] != "ok" else ""
            print(f"{row['transport']:<9} {human_size(row['size']):>8} "
                  f"{fmt_value(kind, row['c']):>14} {fmt_value(kind, row['zmsg']):>14} "
                  f"{fmt_ratio(row['ratio']):>7} {verdict:4} {fmt_ratio(row['paired']):>7} "
                  f"{fmt_ratio(row['best']):>7}")
    sys.stdout.flush()


def plot(rows, info, transports, kinds, runs):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("bench: matplotlib missing, no plot (pip install -r bench/requirements.txt)")
        return []
    fig, axes = plt.subplots(len(kinds), len(transports),
                             figsize=(5 * len(transports), 4.25 * len(kinds) + 0.5), squeeze=False)
    styles = {"c": dict(color="#555555", marker="o", label="libzmq C perf tool"),
              "zmsg": dict(color="#d9480f", marker="s", label="zmsg (Rust)")}
    for col, transport in enumerate(transports):
        for row_index, kind in enumerate(kinds):
            ax = axes[row_index][col]
            points = sorted((r for r in rows if r["transport"] == transport and r["kind"] == kind
                             and r["c"] and r["zmsg"]), key=lambda r: r["size"])
            if not points:
                ax.set_axis_off()
                continue
            for impl in IMPLS:
                xs = [r["size"] for r in points if r[impl]]
                ys = [r[impl] for r in points if r[impl]]
                if kind == "thr":
                    ys = [y * s * 8 / 1e6 for y, s in zip(ys, xs)]  # Mb/s reads better across sizes
                ax.plot(xs, ys, **styles[impl])
            ax.set_xscale("log", base=2)
            if kind == "thr":
                ax.set_yscale("log")
            else:
                ax.set_ylim(bottom=0, top=max(max(r["c"], r["zmsg"]) for r in points) * 1.25)
            ax.set_xticks(sorted({r["size"] for r in points}))
            ax.set_xticklabels([human_size(r) for r in sorted({r["size"] for r in points})],
                               rotation=45, fontsize=8)
            ax.grid(True, which="both", alpha=0.3)
            if kind == "thr":
                ax.set_title(f"{transport}: throughput (PUSH/PULL)")
                ax.set_ylabel("Mb/s (higher is better)")
            else:
                ax.set_title(f"{transport}: latency (REQ/REP)")
                ax.set_ylabel("us one way (lower is better)")
            ax.set_xlabel("message size")
            for r in points:
                if r["ratio"]:
                    y = r["zmsg"] * (r["size"] * 8 / 1e6 if kind == "thr" else 1)
                    ax.annotate(f"{r['ratio']:.2f}", (r["size"], y), textcoords="offset points",
                                xytext=(0, 6), ha="center", fontsize=7, color="#d9480f")
            ax.legend(fontsize=8)
    fig.suptitle(f"zmsg vs libzmq 4.3.5 C perf tools — median of {runs} run(s), labels = "
                 f"zmsg/C ratio\n{info.get('model')} x {info.get('nproc')} cores, shared machine",
                 fontsize=10)
    fig.tight_layout()
    written = []
    for ext in ("png", "svg"):
        path = OUT / f"perf.{ext}"
        fig.savefig(path, dpi=110)
        written.append(path)
    plt.close(fig)
    return written


def update_doc(markdown, info, stamp):
    """Replaces the figures between the bench markers in docs/performance.md."""
    if not DOC.exists():
        return False
    text = DOC.read_text()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    machine = (f"Measured {stamp} on {info.get('model')}, {info.get('nproc')} cores, "
               f"{info.get('mem_gib', '?')} GiB, Linux {info.get('kernel')} "
               f"({info.get('rustc', '')}; {info.get('cxx', '')}; commit {info.get('git', '?')}). "
               f"Load average {info.get('loadavg_start', ['?'])[0]:.1f} at the start and "
               f"{info.get('loadavg_end', ['?'])[0]:.1f} at the end of the binding runs: the machine "
               "is shared with other builds and is noisy, so read the ratios.")
    DOC.write_text(f"{head}{begin}\n{machine}\n\n{markdown}\n![zmsg vs C](img/perf.png)\n\n{end}{tail}")
    return True


# ----------------------------------------------------------------------------------------------
# The async comparison (--async): blocking zmsg vs zmsg's AsyncSocket vs zmq.rs, one process per
# run with both ends in it, over tcp://127.0.0.1.

ASYNC_IMPLS = ["blocking", "async", "zmqrs"]
ASYNC_NAMES = {"blocking": "blocking zmsg", "async": "async zmsg", "zmqrs": "zmq.rs"}
ASYNC_SIZES = [16, 1024, 65536]
ASYNC_THR_BAR = 0.9  # async zmsg / blocking zmsg, throughput: at least
ASYNC_ZMQRS_BAR = 2.0  # async zmsg / zmq.rs, throughput: at least
ASYNC_LAT_BAR = 1.1  # async zmsg / blocking zmsg, round trip: at most
ROUND_TRIP_RE = re.compile(r"average round trip: ([\d.]+) \[us\]")


def run_loopback(program, size, count, flavour):
    """One run of a loopback program; msg/s (throughput) or round-trip us (latency), or None."""
    args = [str(program), str(size), str(count)]
    if flavour:
        args.append(flavour)
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    if program.name.endswith("_thr"):
        return parse("thr", proc.stdout)
    match = ROUND_TRIP_RE.search(proc.stdout or "")
    return float(match.group(1)) if match else None


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def async_summarize(results):
    rows = []
    for (kind, size), runs in results.items():
        med = {impl: median_or_none(runs[impl]) for impl in ASYNC_IMPLS}
        row = {"kind": kind, "size": size, **med, "runs": runs}
        a, b, z = med["async"], med["blocking"], med["zmqrs"]
        row["vs_blocking"] = a / b if a and b else None
        row["vs_zmqrs"] = a / z if a and z else None
        # The per-run ratios (the three ran back to back, under the same load), as in the main table.
        pairs = [x / y for x, y in zip(runs["async"], runs["blocking"]) if x and y]
        row["paired"] = statistics.median(pairs) if pairs else None
        if kind == "thr":
            row["verdict_blocking"] = verdict(row["vs_blocking"], lambda r: r >= ASYNC_THR_BAR)
            row["verdict_zmqrs"] = verdict(row["vs_zmqrs"], lambda r: r >= ASYNC_ZMQRS_BAR)
        else:
            row["verdict_blocking"] = verdict(row["vs_blocking"], lambda r: r <= ASYNC_LAT_BAR)
            row["verdict_zmqrs"] = ""  # no bar: for information
        rows.append(row)
    return rows


def verdict(ratio, ok):
    if ratio is None:
        return "n/a"
    return "ok" if ok(ratio) else "MISS"


def fmt_thr(value, size):
    if value is None:
        return "failed"
    return f"{value:,.0f} ({value * size / 1e6:,.1f})"


def fmt_lat(value):
    return "failed" if value is None else f"{value:.1f}"


def async_markdown(rows, runs, flavour):
    lines = [f"**Throughput** (PUSH/PULL), msg/s (MB/s), median of {runs} run(s); ratios of the "
             f"medians: async/blocking (bar >= {ASYNC_THR_BAR}), async/zmq.rs (bar >= "
             f"{ASYNC_ZMQRS_BAR}); paired = median of the per-run async/blocking ratios", "",
             "| size | blocking zmsg | async zmsg | zmq.rs | async/blocking | | async/zmq.rs | | paired |",
             "|---:|---:|---:|---:|---:|---|---:|---|---:|"]
    for row in rows:
        if row["kind"] != "thr":
            continue
        size = row["size"]
        lines.append(f"| {human_size(size)} | {fmt_thr(row['blocking'], size)} | "
                     f"{fmt_thr(row['async'], size)} | {fmt_thr(row['zmqrs'], size)} | "
                     f"{fmt_ratio(row['vs_blocking'])} | {row['verdict_blocking']} | "
                     f"{fmt_ratio(row['vs_zmqrs'])} | {row['verdict_zmqrs']} | "
                     f"{fmt_ratio(row['paired'])} |")
    lines += ["", f"**Round trip** (REQ/REP), us, median of {runs} run(s); async/blocking (bar <= "
              f"{ASYNC_LAT_BAR}); async/zmq.rs for information (no bar); paired as above", "",
              "| size | blocking zmsg | async zmsg | zmq.rs | async/blocking | | paired | async/zmq.rs |",
              "|---:|---:|---:|---:|---:|---|---:|---:|"]
    for row in rows:
        if row["kind"] != "lat":
            continue
        lines.append(f"| {human_size(row['size'])} | {fmt_lat(row['blocking'])} | "
                     f"{fmt_lat(row['async'])} | {fmt_lat(row['zmqrs'])} | "
                     f"{fmt_ratio(row['vs_blocking'])} | {row['verdict_blocking']} | "
                     f"{fmt_ratio(row['paired'])} | {fmt_ratio(row['vs_zmqrs'])} |")
    lines.append("")
    lines.append(f"(tokio runtime: {flavour}; tcp://127.0.0.1, both ends in one process.)")
    lines.append("")
    return "\n".join(lines)


def async_print(rows, runs):
    print(f"\nTHROUGHPUT [msg/s (MB/s)], PUSH/PULL over tcp, median of {runs}")
    print(f"{'size':>8} {'blocking zmsg':>22} {'async zmsg':>22} {'zmq.rs':>22} "
          f"{'a/blk':>6} {'':4} {'a/zmqrs':>7} {'':4} {'paired':>6}")
    for row in rows:
        if row["kind"] != "thr":
            continue
        size = row["size"]
        print(f"{human_size(size):>8} {fmt_thr(row['blocking'], size):>22} "
              f"{fmt_thr(row['async'], size):>22} {fmt_thr(row['zmqrs'], size):>22} "
              f"{fmt_ratio(row['vs_blocking']):>6} {row['verdict_blocking']:4} "
              f"{fmt_ratio(row['vs_zmqrs']):>7} {row['verdict_zmqrs']:4} "
              f"{fmt_ratio(row['paired']):>6}")
    print(f"\nROUND TRIP [us], REQ/REP over tcp, median of {runs}")
    print(f"{'size':>8} {'blocking zmsg':>14} {'async zmsg':>14} {'zmq.rs':>14} "
          f"{'a/blk':>6} {'':4} {'paired':>6} {'a/zmqrs':>7}")
    for row in rows:
        if row["kind"] != "lat":
            continue
        print(f"{human_size(row['size']):>8} {fmt_lat(row['blocking']):>14} "
              f"{fmt_lat(row['async']):>14} {fmt_lat(row['zmqrs']):>14} "
              f"{fmt_ratio(row['vs_blocking']):>6} {row['verdict_blocking']:4} "
              f"{fmt_ratio(row['paired']):>6} {fmt_ratio(row['vs_zmqrs']):>7}")
    sys.stdout.flush()


def async_plot(rows, info, runs, flavour):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("bench: matplotlib missing, no plot (pip install -r bench/requirements.txt)")
        return []
    colors = {"blocking": "#555555", "async": "#d9480f", "zmqrs": "#1c7ed6"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, kind in zip(axes, ("thr", "lat")):
        points = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r["size"])
        if not points:
            ax.set_axis_off()
            continue
        width = 0.27
        for offset, impl in enumerate(ASYNC_IMPLS):
            xs = [i + (offset - 1) * width for i in range(len(points))]
            ys = []
            for r in points:
                value = r[impl] or 0
                ys.append(value * r["size"] / 1e6 if kind == "thr" else value)
            ax.bar(xs, ys, width, color=colors[impl], label=ASYNC_NAMES[impl])
        # The async ratios, above each group of bars.
        for i, r in enumerate(points):
            top = max((r[impl] or 0) * (r["size"] / 1e6 if kind == "thr" else 1)
                      for impl in ASYNC_IMPLS)
            label = f"async/blocking {r['vs_blocking']:.2f}" if r["vs_blocking"] else ""
            if r["vs_zmqrs"]:
                label += f"\nasync/zmq.rs {r['vs_zmqrs']:.2f}"
            ax.annotate(label, (i, top), textcoords="offset points", xytext=(0, 4),
                        ha="center", fontsize=7, color=colors["async"])
        ax.set_xticks(range(len(points)))
        ax.set_xticklabels([human_size(r["size"]) for r in points])
        ax.set_xlabel("message size")
        ax.grid(True, axis="y", which="both", alpha=0.3)
        if kind == "thr":
            ax.set_yscale("log")
            ax.set_ylim(top=max(max((r[i] or 0) * r["size"] / 1e6 for i in ASYNC_IMPLS)
                                for r in points) * 4)
            ax.set_title("throughput, PUSH/PULL over tcp")
            ax.set_ylabel("MB/s (higher is better)")
        else:
            top = max(max(r[i] or 0 for i in ASYNC_IMPLS) for r in points)
            ax.set_ylim(0, top * 1.35)
            ax.set_title("round trip, REQ/REP over tcp")
            ax.set_ylabel("us per round trip (lower is better)")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"async zmsg (AsyncSocket, tokio {flavour}) vs blocking zmsg vs zmq.rs — "
                 f"median of {runs} run(s), both ends in one process, labels = async ratios\n"
                 f"{info.get('model')} x {info.get('nproc')} cores, shared machine", fontsize=10)
    fig.tight_layout()
    written = []
    for ext in ("png", "svg"):
        path = OUT / f"async.{ext}"
        fig.savefig(path, dpi=110)
        written.append(path)
    plt.close(fig)
    return written


def replace_marked(begin, end, body):
    """Replaces the text between two markers of docs/performance.md; False if they are missing."""
    if not DOC.exists():
        return False
    text = DOC.read_text()
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{begin}\n{body}\n{end}{tail}")
    return True


def run_async(args, executables, started):
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ASYNC_SIZES
    runs = 1 if args.quick else max(1, args.runs)
    kinds = [k for k in args.kinds.split(",") if k]
    flavour = args.runtime
    update_docs = not args.no_docs and not args.quick and args.sizes is None and runs >= 5
    programs = {(impl, kind): executables[f"{impl}_{kind}"] for impl in ASYNC_IMPLS for kind in kinds}
    info = machine_info()
    info["loadavg_start"] = os.getloadavg()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = {(k, s): {impl: [] for impl in ASYNC_IMPLS} for k in kinds for s in sizes}
    total = len(results) * runs * len(ASYNC_IMPLS)
    done = 0
    for run in range(runs):
        for kind in kinds:
            for index, size in enumerate(sizes):
                base = thr_count(size, "tcp") if kind == "thr" else lat_count(size, "tcp")
                count = max(2, int(base * args.scale))
                # Each of the three goes first, second and third in turn.
                shift = (run + index) % len(ASYNC_IMPLS)
                order = ASYNC_IMPLS[shift:] + ASYNC_IMPLS[:shift]
                for impl in order:
                    program = programs[(impl, kind)]
                    value = run_loopback(program, size, count, None if impl == "blocking" else flavour)
                    results[(kind, size)][impl].append(value)
                    done += 1
                    shown = fmt_value("thr", value) if kind == "thr" else fmt_lat(value)
                    log(f"[{done}/{total} {time.monotonic() - started:5.0f}s] run {run + 1} "
                        f"{kind} {human_size(size):>7} {impl:<8} {shown}")
    info["loadavg_end"] = os.getloadavg()
    rows = async_summarize(results)
    async_print(rows, runs)
    markdown = async_markdown(rows, runs, flavour)
    (OUT / "async.md").write_text(markdown)
    (OUT / "async.json").write_text(json.dumps(
        {"machine": info, "when": stamp, "runs": runs, "runtime": flavour,
         "rows": [{**row, "runs": {impl: row["runs"][impl] for impl in ASYNC_IMPLS}}
                  for row in rows]}, indent=1))
    images = async_plot(rows, info, runs, flavour)
    if update_docs:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        for image in images:
            shutil.copy(image, DOCS_IMG / image.name)
        machine = (f"Measured {stamp} on {info.get('model')}, {info.get('nproc')} cores, "
                   f"{info.get('mem_gib', '?')} GiB, Linux {info.get('kernel')} "
                   f"({info.get('rustc', '')}; commit {info.get('git', '?')}). Load average "
                   f"{info['loadavg_start'][0]:.1f} at the start and {info['loadavg_end'][0]:.1f} "
                   "at the end: the machine is shared with other builds and is noisy, so read "
                   "the ratios.")
        if replace_marked("<!-- async:begin -->", "<!-- async:end -->",
                          f"{machine}\n\n{markdown}\n![async zmsg vs blocking zmsg vs zmq.rs]"
                          "(img/async.png)\n"):
            log("bench: updated docs/performance.md and docs/img/async.{png,svg}")
    log(f"bench: done in {time.monotonic() - started:.0f}s; results in {OUT}/async.*")


# ----------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs per point (median); default 7")
    parser.add_argument("--sizes", help="comma-separated message sizes in bytes")
    parser.add_argument("--transports", default=",".join(TRANSPORTS), help="tcp,ipc,inproc")
    parser.add_argument("--kinds", default=",".join(KINDS), help="thr,lat")
    parser.add_argument("--quick", action="store_true", help="1 run, sizes 1/256/4K/64K")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/ alone")
    parser.add_argument("--callgrind", choices=["auto", "yes", "no"], default="auto",
                        help="count instructions per message with valgrind (auto: full runs, "
                             "when valgrind is installed)")
    parser.add_argument("--mdp", choices=["auto", "yes", "no"], default="auto",
                        help="also run the MDP broker benchmark (perf/src/bin/mdp_bench.rs)")
    parser.add_argument("--async", dest="async_", action="store_true",
                        help="run the async comparison instead: blocking zmsg vs async zmsg vs "
                             "zmq.rs over tcp, 16 B / 1 KiB / 64 KiB (--runs, --sizes, --kinds, "
                             "--scale and --quick apply)")
    parser.add_argument("--runtime", choices=["multi", "current"], default="multi",
                        help="with --async: the tokio runtime of the async programs (default "
                             "multi: one worker per core)")
    args = parser.parse_args()

    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        QUICK_SIZES if args.quick else SIZES)
    runs = 1 if args.quick else max(1, args.runs)
    transports = [t for t in args.transports.split(",") if t]
    kinds = [k for k in args.kinds.split(",") if k]
    update_docs = not args.no_docs and not args.quick and args.sizes is None

    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    executables, scripts = cargo_build(["zmsg-perf"])
    if args.async_:
        run_async(args, executables, started)
        return
    libzmq, sodium, platform_dir = find_static_libs(scripts)
    c_tools, zeromq_src_version = build_c_tools(libzmq, sodium, platform_dir)
    rust_tools = {name: executables[name] for name in PROGRAMS}
    log(f"bench: libzmq {libzmq}\nbench: libsodium {sodium}\nbench: zeromq-src {zeromq_src_version}")

    info = machine_info()
    info["loadavg_start"] = os.getloadavg()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    runner = Runner({"c": c_tools, "zmsg": rust_tools}, f"{os.getpid()}")
    results = {(t, k, s): {"c": [], "zmsg": []} for t in transports for k in kinds for s in sizes}
    total = len(results) * runs * 2
    done = 0
    for run in range(runs):
        for transport in transports:
            for kind in kinds:
                for index, size in enumerate(sizes):
                    base = thr_count(size, transport) if kind == "thr" else lat_count(size, transport)
                    count = max(2, int(base * args.scale))
                    order = IMPLS if (run + index) % 2 == 0 else IMPLS[::-1]
                    for impl in order:
                        value = runner.run(impl, transport, kind, size, count)
                        results[(transport, kind, size)][impl].append(value)
                        done += 1
                        log(f"[{done}/{total} {time.monotonic() - started:5.0f}s] run {run + 1} "
                            f"{transport:<6} {kind} {human_size(size):>7} {impl:<4} "
                            f"{fmt_value(kind, value)}")
    runner.reap(block=True)
    info["loadavg_end"] = os.getloadavg()

    rows = summarize(results)
    print_tables(rows, runs)
    markdown = tables_markdown(rows, runs)
    want_callgrind = args.callgrind == "yes" or (
        args.callgrind == "auto" and not args.quick and shutil.which("valgrind"))
    instr_rows = []
    if want_callgrind:
        instr_rows = instruction_counts({"c": c_tools, "zmsg": rust_tools}, CALLGRIND_SIZES)
        instr_md = instructions_markdown(instr_rows)
        print("\n" + instr_md, flush=True)
        markdown += "\n" + instr_md
    (OUT / "results.md").write_text(markdown)
    (OUT / "results.json").write_text(json.dumps(
        {"machine": info, "when": stamp, "runs": runs, "rows": rows,
         "instructions": instr_rows}, indent=1))
    images = plot(rows, info, transports, kinds, runs)
    if update_docs:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        for image in images:
            shutil.copy(image, DOCS_IMG / image.name)
        if update_doc(markdown, info, stamp):
            log("bench: updated docs/performance.md and docs/img/perf.{png,svg}")

    mdp = executables.get("mdp_bench")
    if args.mdp == "yes" or (args.mdp == "auto" and mdp and not args.quick):
        if mdp is None:
            sys.exit("bench: mdp_bench was not built")
        print("\nMDP broker benchmark (perf/src/bin/mdp_bench.rs)", flush=True)
        mdp_out = subprocess.run([str(mdp)], stdout=subprocess.PIPE, text=True, timeout=900)
        print(mdp_out.stdout, flush=True)
        (OUT / "mdp.txt").write_text(mdp_out.stdout)
        if update_docs and DOC.exists():
            text = DOC.read_text()
            begin, end = "<!-- mdp:begin -->", "<!-- mdp:end -->"
            if begin in text and end in text:
                head, rest = text.split(begin, 1)
                _, tail = rest.split(end, 1)
                DOC.write_text(f"{head}{begin}\nMeasured {stamp}, same machine.\n\n```\n"
                               f"{mdp_out.stdout.strip()}\n```\n{end}{tail}")
    log(f"bench: done in {time.monotonic() - started:.0f}s; results in {OUT}")


if __name__ == "__main__":
    main()
