#!/usr/bin/env python3
"""`make bench`: run every ferrovs benchmark, then write the results JSON, plots and summary.

Steps (each can be skipped with FERROVS_BENCH_SKIP=tlb,criterion,ring,idle,memif,external):
  0. tlb: how many 4 KiB pages the TLB reaches, on huge and normal pages, and what two random
     lines a packet cost at a large table (dpdk-huge's `tlb_reach` probe): what the 1M and 10M
     rows below pay on this machine, whatever the code does;
  1. criterion: dataplane benches (no DPDK) at 1K/100K/1M/10M sessions, new sessions/s,
     bytes per session;
  2. ring: the ferrovs worker loop on a DPDK lcore fed by a generator lcore over net_ring,
     next to testpmd's io and macswap loops on the same path (ferrovs-bench ring);
  2b. idle: the worker loop with `[dpdk] idle = "busy"` and `"sleep"`: full-load Mpps (ring, DR and
     FullNAT UDP) and the round trip at low load (ferrovs-bench latency, 1000 frames/s);
  3. memif: the same generator over net_memif into dpdk-testpmd (io, macswap) and into the
     ferrovs worker loop in another process (ferrovs-bench memif-dut): every mode at 1K, 1M and
     10M sessions, UDP and TCP, against testpmd's own --record-core-cycles (testpmd at one flow
     count: 1M, or the first one given);
  4. external: dpdk-testpmd txonly -> memif -> `ferrovs run` -> memif -> dpdk-testpmd
     (icmpecho, which also answers ferrovs's ARP for the real server).

Every DUT also reports its CPU cycles per packet (TSC cycles of the iterations that received
frames over the frames received: `dpdk-testpmd --record-core-cycles`'s definition; testpmd itself
runs with that flag in step 3), and the summary prints issue 18's targets, measured, never
asserted. `benches/run.py --scaling 1,2,4,8` (benches/scaling.sh) runs the ring and memif steps
with that many worker/generator pairs at once.

Writes benches/results/<timestamp>.json, <timestamp>-*.png and <timestamp>.md.
Environment: FERROVS_BENCH_FLOWS (ring flow counts, default 1000,100000,1000000,10000000),
FERROVS_BENCH_MEMIF_FLOWS (memif flow counts, default 1000,1000000,10000000; quick 1000,100000),
FERROVS_BENCH_MEMIF_BSIZE (the memif DUTs' buffer size, both testpmd's and ferrovs's; default the
gateway's for a memif client, 2112; 2048 is memif's own and the runs before 5 December's),
FERROVS_BENCH_FRAME_BYTES (the memif step's frame length less the FCS, default 60),
FERROVS_BENCH_CRIT_SIZES (criterion's session counts), FERROVS_BENCH_CRIT_ARGS (extra criterion
arguments, e.g. "--warm-up-time 1 --measurement-time 2"), FERROVS_BENCH_TABLES=normal (criterion's
session tables on 4 KiB pages instead of 2 MiB huge pages, which the gateway uses by default),
FERROVS_BENCH_SECS (measured seconds per case, default 2), FERROVS_BENCH_QUICK=1 (small sizes,
short windows: a smoke run in about two minutes), FERROVS_BENCH_REUSE=<results.json> (take the
skipped steps' results from an earlier run, e.g. to re-measure one step on a shared machine; the
JSON records which steps were reused), FERROVS_BENCH_RESULTS (another folder for the results),
FERROVS_BENCH_CRIT_BIN (a prebuilt criterion `pipeline` binary instead of cargo bench),
FERROVS_BENCH_PLOTS=0 (no plots: `--report` keeps the ones the JSON names; benches/tests).
"""

import datetime
import glob
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# FERROVS_BENCH_RESULTS: another folder for the results (benches/device.sh writes to the lent
# machine's $OUT, which comes back).
RESULTS = os.environ.get("FERROVS_BENCH_RESULTS") or os.path.join(ROOT, "benches", "results")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BENCH_BIN = os.path.join(TARGET, "release", "ferrovs-bench")
FERROVS_BIN = os.path.join(TARGET, "release", "ferrovs")
TLB_BIN = os.path.join(TARGET, "release", "examples", "tlb_reach")
QUICK = os.environ.get("FERROVS_BENCH_QUICK") == "1"
PLOTS = os.environ.get("FERROVS_BENCH_PLOTS") != "0"
SKIP = set(filter(None, os.environ.get("FERROVS_BENCH_SKIP", "").split(",")))
SECS = os.environ.get("FERROVS_BENCH_SECS", "1" if QUICK else "2")
FLOWS = os.environ.get(
    "FERROVS_BENCH_FLOWS", "1000,100000" if QUICK else "1000,100000,1000000,10000000"
)
MEMIF_FLOWS = [int(x) for x in filter(None, os.environ.get(
    "FERROVS_BENCH_MEMIF_FLOWS", "1000,100000" if QUICK else "1000,1000000,10000000").split(","))]
MEMIF_BSIZE = os.environ.get("FERROVS_BENCH_MEMIF_BSIZE") or None
FRAME_BYTES = os.environ.get("FERROVS_BENCH_FRAME_BYTES") or "60"
if MEMIF_BSIZE is not None and not (MEMIF_BSIZE.isdigit() and 0 < int(MEMIF_BSIZE) < 65536):
    raise SystemExit(f"FERROVS_BENCH_MEMIF_BSIZE={MEMIF_BSIZE}: a buffer size in bytes, 1 to 65535")
if not (FRAME_BYTES.isdigit() and 60 <= int(FRAME_BYTES) <= 1514):
    raise SystemExit(f"FERROVS_BENCH_FRAME_BYTES={FRAME_BYTES}: 60 to 1514 (1494 with TUN)")
FRAME_BYTES = int(FRAME_BYTES)
MODES = ["dr", "nat", "tun", "fullnat"]
# Targets of issue 18 (reported, never asserted), and issue 8's memory target.
TARGET_CYCLES_VS_MACSWAP = 2.0  # FullNAT at 1M: cycles/packet <= 2x testpmd macswap's
TARGET_CRIT_NS = {"1M": 100.0, "10M": 130.0}  # criterion FullNAT ns/packet
TARGET_10M_VS_1K = 0.70
TARGET_NEW_SESSIONS = 2.5e6  # FullNAT, per worker
TARGET_SCALING_8 = 7.0  # 1 -> 8 workers
TARGET_BYTES_PER_SESSION = 96


def log(msg):
    print(f"bench: {msg}", flush=True)


def cpus():
    return os.cpu_count() or 1


def lcore_map(n_loops):
    """EAL --lcores for main lcore 0 plus n_loops polling lcores, spread over the CPUs.

    With fewer CPUs than lcores, the main lcore (which only sleeps) shares CPU 0 with the
    first loop; polling loops get their own CPU while there are CPUs left."""
    n = cpus()
    parts = ["0@0"]
    for i in range(n_loops):
        cpu = (i + 1) if n > n_loops else (i % n)
        parts.append(f"{i + 1}@{cpu}")
    return ",".join(parts)


def machine():
    info = {"cpus": cpus(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            info["cpu_model"] = m.group(1) if m else "?"
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key in ("Hypervisor vendor", "L2 cache", "L3 cache", "CPU max MHz", "BogoMIPS"):
            m = re.search(rf"{key}:\s*(.*)", out)
            if m:
                info[key.lower().replace(" ", "_")] = m.group(1).strip()
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        info["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    for cmd, key in (
        (["dpkg-query", "-W", "-f=${Version}", "libdpdk-dev"], "dpdk"),
        (["rustc", "--version"], "rustc"),
    ):
        try:
            info[key] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            info[key] = "?"
    try:
        info["git"] = subprocess.run(
            ["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    # Binaries built elsewhere and carried to a lent machine (whose copy may hold a stale
    # .git and no dpkg) name their build here.
    for key in ("git", "dpdk"):
        if os.environ.get(f"FERROVS_BENCH_{key.upper()}"):
            info[key] = os.environ[f"FERROVS_BENCH_{key.upper()}"]
    with open("/proc/loadavg") as f:
        info["loadavg_at_start"] = f.read().split()[:3]
    return info


# ---------------------------------------------------------------- 0. tlb


def free_huge_mib():
    with open("/proc/meminfo") as f:
        text = f.read()
    free = re.search(r"HugePages_Free:\s*(\d+)", text)
    size = re.search(r"Hugepagesize:\s*(\d+) kB", text)
    return int(free.group(1)) * int(size.group(1)) // 1024 if free and size else 0


def run_tlb():
    # Two buffers of this size at once, on huge pages when the pool has room for both.
    mib = 1024
    while mib > 64 and 2 * mib > free_huge_mib():
        mib //= 2
    log(f"tlb: the TLB's reach and two lines a packet, buffers of {mib} MiB")
    # Built by scripts/bench.sh, as the other binaries are (or carried to a lent machine).
    if not os.path.exists(TLB_BIN):
        raise SystemExit(f"{TLB_BIN} is missing: cargo build --release -p dpdk-huge --example tlb_reach"
                         " (scripts/bench.sh builds it), or FERROVS_BENCH_SKIP=tlb")
    p = subprocess.run([TLB_BIN, str(mib), "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"tlb_reach failed:\n{p.stderr[-3000:]}")
    rows = json_lines(p.stdout)
    return {"mib": mib, "reach": [r for r in rows if r["kind"] == "reach"],
            "two_lines": [r for r in rows if r["kind"] == "two_lines"]}


# `ferrovs doctor`'s threshold (control::doctor::TLB_WALK_NS): a load scattered over huge pages
# costing more than this beyond a packed one walks the page tables.
TLB_WALK_NS = 6.0


def tlb_walks(tlb):
    """The 4096-page reading on huge pages, and whether it walks (None without one)."""
    r = next((r for r in tlb.get("reach", []) if r["huge"] and r["lines"] == 4096
              and r["placed"].startswith("huge")), None)
    if not r:
        return None
    return r, r["spread_ns"] - r["packed_ns"] > TLB_WALK_NS


def tlb_section(tlb):
    """The probe's two tables and what they mean, for the summary."""
    L = ["## The TLB's reach on this machine (`tlb_reach`)\n",
         f"A chase through lines each in its own 4 KiB page, scattered over {tlb['mib']} MiB (spread),"
         " against the same number of lines packed 64 to a page; ns a load. The lines fit the L2"
         " either way, so the difference is address translation. On huge pages the scattered"
         " lines lie in at most one 2 MiB page each, so if the TLB held those as 2 MiB entries the"
         " huge spread column would stay near packed. Where it climbs with the pages while packed"
         " stays flat, translations are cached 4 KiB at a time (a KVM guest whose host backs it"
         " with 4 KiB pages), and beyond that many pages the 1M and 10M rows below pay a page walk"
         " for most lookups. The method and this machine's reading: `benches/README.md`.\n",
         "| pages | huge: spread | packed | 4 KiB pages: spread | packed |", "|---|---|---|---|---|"]
    by = {(r["huge"], r["lines"]): r for r in tlb["reach"]}
    for n in sorted({r["lines"] for r in tlb["reach"]}):
        h, s = by.get((True, n), {}), by.get((False, n), {})
        L.append(f"| {n} | {h.get('spread_ns', '')} | {h.get('packed_ns', '')} |"
                 f" {s.get('spread_ns', '')} | {s.get('packed_ns', '')} |")
    placed = sorted({r["placed"] for r in tlb["reach"] if r["huge"]})
    L.append(f"\nThe huge rows' buffer: {'; '.join(placed)}.\n")
    # Results before session 22 have no one-line column.
    direct = bool(tlb["two_lines"]) and all("direct_ns" in r for r in tlb["two_lines"])
    one_line = (" One line (direct): a random line of a buffer of the same span read alone, as a"
                " record found from the hash with no bucket would be, the floor for a lookup that"
                " reads one line." if direct else "")
    L.append("Two lines a packet, as a lookup at a large table reads them (bursts of 32, both prefetch"
             " stages): a random bucket line, then its record, in a second buffer (apart, as the index"
             " and the slab are) or in the second half of the bucket's own 4 KiB page (beside; both"
             " layouts span the same memory); the loads alone, then each"
             " packet followed by about 40 ns of dependent work, then that work with the next burst's"
             f" buckets asked for a burst ahead.{one_line} ns a packet:\n")
    cols = ["buffer", "pages", "schedule", "apart", "beside"] + (["one line"] if direct else [])
    L.append("| " + " | ".join(cols) + " |\n" + "|---" * len(cols) + "|")
    for r in tlb["two_lines"]:
        row = f"| {r['mib']} MiB | {r['placed']} | {r['schedule']} | {r['apart_ns']} | {r['beside_ns']} |"
        L.append(row + (f" {r['direct_ns']} |" if direct else ""))
    L.append("")
    return L


# ---------------------------------------------------------------- 1. criterion


def run_criterion():
    env = dict(os.environ)
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 2**20
    sizes = "1000,100000" if QUICK else "1000,100000,1000000"
    if not QUICK and mem_gib >= 8:
        sizes += ",10000000"
    sizes = os.environ.get("FERROVS_BENCH_CRIT_SIZES", sizes)
    env["FERROVS_BENCH_SIZES"] = sizes
    shutil.rmtree(os.path.join(TARGET, "criterion"), ignore_errors=True)
    log(f"criterion: dataplane benches at {sizes} sessions")
    # FERROVS_BENCH_CRIT_BIN: a prebuilt `pipeline` bench binary, run as cargo would run it
    # (benches/device.sh: the lent machine has no cargo).
    crit_bin = os.environ.get("FERROVS_BENCH_CRIT_BIN")
    cmd = [crit_bin, "--bench"] if crit_bin else ["cargo", "bench", "-p", "dataplane", "--bench", "pipeline", "--"]
    if QUICK:
        cmd += ["--warm-up-time", "0.5", "--measurement-time", "1"]
    # e.g. "--warm-up-time 1 --measurement-time 2" for a shorter run on a shared machine.
    cmd += os.environ.get("FERROVS_BENCH_CRIT_ARGS", "").split()
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    sys.stderr.write(p.stderr[-4000:])
    if p.returncode != 0:
        raise SystemExit(f"criterion failed:\n{p.stdout[-3000:]}")
    out = {"sizes": [int(s) for s in sizes.split(",")], "benches": [], "memory": []}
    for line in p.stdout.splitlines() + p.stderr.splitlines():
        m = re.match(
            r"memory: (IPv[46]) session table, (\d+) sessions: (\d+) bytes = ([\d.]+) bytes/session",
            line,
        )
        if m:
            out["memory"].append(
                {
                    "family": m.group(1),
                    "capacity": int(m.group(2)),
                    "bytes": int(m.group(3)),
                    "bytes_per_session": float(m.group(4)),
                }
            )
        m = re.match(r"loaded (\d+) (\w+) sessions in .* \((\d+) bytes of table(?:; tables (.*))?\)$", line)
        if m:
            out.setdefault("tables", []).append(
                {"sessions": int(m.group(1)), "mode": m.group(2), "bytes": int(m.group(3)),
                 "placed": m.group(4) or ""}
            )
    for path in glob.glob(os.path.join(TARGET, "criterion", "**", "new", "benchmark.json"), recursive=True):
        with open(path) as f:
            b = json.load(f)
        with open(os.path.join(os.path.dirname(path), "estimates.json")) as f:
            est = json.load(f)
        per_iter_ns = est["mean"]["point_estimate"]
        elems = (b.get("throughput") or {}).get("Elements", 1)
        out["benches"].append(
            {
                "group": b["group_id"],
                "function": b["function_id"],
                "param": b.get("value_str"),
                "ns_per_packet": per_iter_ns / elems,
                "mpps": elems / per_iter_ns * 1e3,
                "ci_ns_per_packet": [
                    est["mean"]["confidence_interval"]["lower_bound"] / elems,
                    est["mean"]["confidence_interval"]["upper_bound"] / elems,
                ],
            }
        )
    out["benches"].sort(key=lambda b: (b["group"], b["function"], b["param"] or ""))
    return out


# ---------------------------------------------------------------- 2. ring


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def aggregate_refs(runs):
    """One entry per (dut, proto) of the references, from their repeated runs: the median
    rate, with every repetition kept (`mpps_reps`), since a generator-bound reference moves
    with where the host puts the two vCPUs more than a DUT-bound one does."""
    out, seen = [], {}
    for r in runs:
        seen.setdefault((r["dut"], r["proto"], r["peer"]), []).append(r)
    for reps in seen.values():
        reps_sorted = sorted(reps, key=lambda r: r["mpps"])
        mid = dict(reps_sorted[len(reps_sorted) // 2])
        mid["mpps_reps"] = [r["mpps"] for r in reps]
        mid["gen_queue_full_share_reps"] = [r.get("gen_queue_full_share", 0) for r in reps]
        cyc = sorted(r["dut_cycles_per_packet"] for r in reps if r.get("dut_cycles_per_packet"))
        if cyc:
            mid["cycles_reps"] = [r.get("dut_cycles_per_packet") for r in reps]
            mid["dut_cycles_per_packet"] = cyc[len(cyc) // 2]
        out.append(mid)
    return out


def ring_run(duts, flows, tag):
    cmd = [
        BENCH_BIN, "ring", "--duts", duts, "--flows", flows, "--protos", "udp,tcp", "--secs", SECS,
        "--lcores", lcore_map(2), "--prefix", f"fvring{os.getpid()}{tag}",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True)
    for line in p.stderr.splitlines():
        if line.startswith("ring "):
            log(line)
    if p.returncode != 0:
        raise SystemExit(f"ferrovs-bench ring failed:\n{p.stderr[-3000:]}")
    return json_lines(p.stdout)


def run_ring():
    log(f"ring: generator lcore + DUT lcore over net_ring, flows {FLOWS}, lcores {lcore_map(2)};"
        " references before, between and after the ferrovs modes")
    refs, modes = [], []
    refs += ring_run("io,macswap", FLOWS, "r1")
    modes += ring_run("dr,nat", FLOWS, "m1")
    refs += ring_run("io,macswap", FLOWS, "r2")
    modes += ring_run("tun,fullnat", FLOWS, "m2")
    refs += ring_run("io,macswap", FLOWS, "r3")
    return aggregate_refs(refs) + modes


# ---------------------------------------------------------------- 2b. idle


def run_idle():
    """Busy polling against sleep mode on the same path, the modes alternating within each
    case: full-load Mpps (must not change: a loaded worker never sleeps) and the round-trip
    time of one frame at a time at 1000 frames/s (what sleeping adds when traffic is light)."""
    log(f"idle: ring DR and FullNAT UDP 1K flows, busy vs sleep, twice; latency DR 1000 pps, lcores {lcore_map(2)}")
    full = []
    for tag in ("i1", "i2"):
        cmd = [BENCH_BIN, "ring", "--duts", "dr,fullnat", "--flows", "1000", "--protos", "udp",
               "--idle", "busy,sleep", "--secs", SECS, "--lcores", lcore_map(2),
               "--prefix", f"fvidle{os.getpid()}{tag}"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        for line in p.stderr.splitlines():
            if line.startswith("ring "):
                log(line)
        if p.returncode != 0:
            raise SystemExit(f"ferrovs-bench ring --idle failed:\n{p.stderr[-3000:]}")
        full += json_lines(p.stdout)
    cmd = [BENCH_BIN, "latency", "--dut", "dr", "--idle", "busy,sleep,busy,sleep", "--pps", "1000",
           "--secs", "2" if QUICK else "5", "--lcores", lcore_map(2), "--prefix", f"fvlat{os.getpid()}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    for line in p.stderr.splitlines():
        if line.startswith("latency "):
            log(line)
    if p.returncode != 0:
        raise SystemExit(f"ferrovs-bench latency failed:\n{p.stderr[-3000:]}")
    return {"full_load": full, "latency": json_lines(p.stdout)}


# ---------------------------------------------------------------- 3. memif


def stop(proc, timeout=15):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def testpmd_cmd(prefix, lcores, vdevs, args):
    cmd = ["dpdk-testpmd", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "512",
           "--file-prefix", prefix, "--lcores", lcores]
    for v in vdevs:
        cmd += ["--vdev", v]
    return cmd + ["--", "--total-num-mbufs=8192", "--nb-cores=1", "--stats-period", "1"] + args


def memif_case(peer, dut, flows, tmp, proto="udp"):
    d = tempfile.mkdtemp(dir=tmp)
    # Both DUTs' client ports as memif-dut makes them (the gateway's defaults, or the buffer
    # size asked for): the same memory layout for testpmd and ferrovs.
    vdevs = memif_vdevs(d)
    # Generator: main lcore + generator lcore on CPU 0; the peer's on the last CPU.
    last = cpus() - 1
    gen = subprocess.Popen(
        [BENCH_BIN, "memif-gen", "--dir", d, "--dut", dut, "--proto", proto, "--flows", str(flows),
         "--peer", peer, "--secs", SECS, "--lcores", "0@0,1@0", "--prefix", f"fvmg{os.getpid()}",
         "--frame-bytes", str(FRAME_BYTES), "--hold"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    for _ in range(200):
        if os.path.exists(os.path.join(d, "m1.sock")) or gen.poll() is not None:
            break
        time.sleep(0.05)
    # The DUT's output goes to a file (a pipe nobody reads could fill and block it).
    dut_out = open(os.path.join(d, "dut.out"), "w+")
    if peer == "testpmd":
        dut_p = subprocess.Popen(
            testpmd_cmd(f"fvmt{os.getpid()}", f"0@{last},1@{last}", vdevs,
                        [f"--forward-mode={dut}", "--record-core-cycles"]),
            stdin=subprocess.DEVNULL, stdout=dut_out, stderr=subprocess.STDOUT,
        )
    else:
        dut_p = subprocess.Popen(
            [BENCH_BIN, "memif-dut", "--dir", d, "--sessions", str(flows),
             "--lcores", f"0@{last},1@{last}", "--prefix", f"fvmd{os.getpid()}"] + bsize_args(),
            stdout=dut_out, stderr=subprocess.DEVNULL,
        )
    try:
        # The generator prints its result, then holds the link up until its stdin closes: stop
        # the DUT (testpmd prints its statistics) first, as memif resets port counters when
        # the link goes down.
        out = gen.stdout.readline()
    finally:
        stop(dut_p)
    try:
        rest, err = gen.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        gen.kill()
        rest, err = gen.communicate()
    out += rest
    dut_out.seek(0)
    dut_text = dut_out.read()
    if os.environ.get("FERROVS_BENCH_DEBUG"):
        sys.stderr.write(dut_text[-6000:])
    dut_out.close()
    if gen.returncode != 0:
        log(f"memif {peer} {dut} {proto} {label(flows)} flows: generator failed: {err[-1500:]}")
        return None
    r = json_lines(out)
    if not r:
        return None
    r = r[0]
    r["memif_bsize"] = memif_bsize(vdevs[0])
    if peer == "testpmd":
        r.update(testpmd_cycles(dut_text))
    else:
        r.update(window_cycles(json_lines(dut_text), r["window_unix"]))
    for line in err.splitlines():
        if line.startswith("memif "):
            log(f"{line}, DUT {r.get('dut_cycles_per_packet') or 0:.1f} cycles/packet"
                f" ({r.get('cycles_scope', '?')})")
    return r


def memif_vdevs(d):
    """The `--vdev` strings of memif-dut's two client ports in `d` (`ferrovs-bench memif-vdev`):
    the gateway's defaults, or FERROVS_BENCH_MEMIF_BSIZE."""
    return subprocess.run([BENCH_BIN, "memif-vdev", "--dir", d] + bsize_args(), check=True,
                          capture_output=True, text=True).stdout.splitlines()


def bsize_args():
    """memif-dut's and memif-vdev's buffer size option: FERROVS_BENCH_MEMIF_BSIZE, if set."""
    return ["--bsize", MEMIF_BSIZE] if MEMIF_BSIZE else []


def memif_bsize(vdev):
    """The buffer size a memif client vdev string names (memif's own default, 2048, if none)."""
    m = re.search(r"(?:^|,)bsize=(\d+)", vdev)
    return int(m.group(1)) if m else 2048


def testpmd_cycles(text):
    """testpmd's own "CPU cycles/packet" (--record-core-cycles) from its exit statistics:
    cycles of the stream calls that received frames, over every frame received, for the whole
    run (testpmd's references have no prefill phase, so all of it is steady traffic)."""
    m = re.search(r"CPU cycles/packet=([\d.]+) \(total cycles=(\d+) / total \w+ packets=(\d+)\) at (\d+) MHz", text)
    if not m:
        return {"cycles_scope": "testpmd printed no CPU cycles/packet"}
    return {"dut_cycles_per_packet": float(m.group(1)), "dut_busy_cycles_total": int(m.group(2)),
            "dut_packets_total": int(m.group(3)), "tsc_mhz": int(m.group(4)),
            "cycles_scope": "testpmd --record-core-cycles, whole run"}


def tables_note(results):
    """Where the ferrovs DUT's session tables were (`ferrovs-bench --tables`), one line."""
    placed = sorted({r.get("tables") for r in results if r.get("tables")}, key=len)
    if not placed:
        return ""
    return "\nThe ferrovs DUT's session tables: " + "; ".join(placed) + ".\n"


def window_cycles(samples, window):
    """The ferrovs DUT's busy cycles per received frame between its first and last counter
    samples inside the generator's measurement window (the prefill, which creates the
    sessions, stays out)."""
    inside = [x for x in samples if window[0] <= x["unix"] <= window[1]]
    if len(inside) < 2:
        return {"cycles_scope": f"{len(inside)} DUT samples in the window"}
    a, b = inside[0], inside[-1]
    rx, cyc = b["rx"] - a["rx"], b["busy_cycles"] - a["busy_cycles"]
    busy = b["busy_polls"] - a["busy_polls"]
    out = {"cycles_scope": f"worker busy_cycles over {b['unix'] - a['unix']:.2f} s of the window",
           "dut_busy_cycles_in_window": cyc, "dut_rx_in_window": rx, "tables": b.get("tables", "")}
    if rx > 0:
        out["dut_cycles_per_packet"] = cyc / rx
    if busy > 0:
        out["dut_rx_per_busy_poll"] = rx / busy
    return out


def memif_ref_flows():
    """The flow count the testpmd references run at (they forward any frame alike; the
    generator's cost is what the count could move): 1M where measured, as before 5 December."""
    return 1000000 if 1000000 in MEMIF_FLOWS else MEMIF_FLOWS[0]


def run_memif():
    """Every ferrovs mode at each of MEMIF_FLOWS, UDP then TCP, against dpdk-testpmd io and
    macswap on the same path, which run before, between and after the modes of each protocol."""
    if not shutil.which("dpdk-testpmd"):
        log("memif: dpdk-testpmd not found (apt-get install dpdk): skipped")
        return []
    if not MEMIF_FLOWS:
        log("memif: FERROVS_BENCH_MEMIF_FLOWS names no flow count: skipped")
        return []
    sizes = ",".join(label(f) for f in MEMIF_FLOWS)
    log(f"memif: generator process <-> dpdk-testpmd / ferrovs worker process, {sizes} flows, UDP and TCP")
    refs, modes = [], []
    ref = memif_ref_flows()
    refs_order = [("testpmd", "io", ref), ("testpmd", "macswap", ref)]
    with tempfile.TemporaryDirectory(prefix="fvmemif") as tmp:
        for proto in ("udp", "tcp"):
            order = refs_order + [("ferrovs", m, f) for m in ("dr", "nat") for f in MEMIF_FLOWS] + \
                refs_order + [("ferrovs", m, f) for m in ("tun", "fullnat") for f in MEMIF_FLOWS] + \
                refs_order
            for peer, dut, flows in order:
                r = memif_case(peer, dut, flows, tmp, proto)
                if r:
                    (refs if peer == "testpmd" else modes).append(r)
    return aggregate_refs(refs) + modes


# ---------------------------------------------------------------- 4. external


GW_CONFIG = """
[dpdk]
lcores = "0-1"
lcore_cpus = [0, {worker_cpu}]
hugepages = false
file_prefix = "fvext{pid}"
mbufs_per_port = 8192
session_capacity = 1048576
persist_capacity = 1024

[[port]]
name = "wan0"
device = "net_memif0,role=server,id=0,socket={d}/wan.sock,socket-abstract=no"
addresses = ["198.18.0.1/24"]
mac = "02:00:00:00:00:10"

[[port]]
name = "lan0"
device = "net_memif1,role=server,id=0,socket={d}/lan.sock,socket-abstract=no"
addresses = ["198.18.1.1/24"]
mac = "02:00:00:00:00:11"

[[local_address_pool]]
name = "snat"
addresses = ["198.18.1.200"]

[[service]]
vip = "198.18.0.100"
port = 80
protocol = "udp"
scheduler = "rr"
forward = "{mode}"
{pool}
  [[service.real_server]]
  address = "198.18.1.11"
"""


def testpmd_totals(text):
    """Sum of the per-port RX/TX packet totals from testpmd's exit statistics."""
    m = re.search(r"Accumulated forward statistics for all ports\+*\s*\n\s*RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+).*\n\s*TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)", text)
    if not m:
        return None
    return {"rx": int(m.group(1)), "rx_dropped": int(m.group(2)), "tx": int(m.group(3)),
            "tx_dropped": int(m.group(4))}


def pps_samples(text, key):
    """Per-second `Rx-pps:` / `Tx-pps:` samples of port 0 from testpmd's --stats-period output."""
    vals = []
    for block in text.split("NIC statistics for port 0")[1:]:
        m = re.search(rf"{key}:\s*(\d+)", block)
        if m:
            vals.append(int(m.group(1)))
    return vals


def exit_counters(tail):
    """The counter lines the gateway printed at stop: those after its last "stopping" line
    (the tail also holds the periodic prints before it), else the last worker 0 block."""
    stop = max((i for i, x in enumerate(tail) if x.endswith("ferrovs: stopping")), default=None)
    if stop is None:
        stop = max((i for i, x in enumerate(tail) if "worker 0: rx" in x), default=0) - 1
    return [x for x in tail[stop + 1:] if "worker 0" in x or "control:" in x]


def run_external(mode="fullnat"):
    if not shutil.which("dpdk-testpmd") or not os.path.exists(FERROVS_BIN):
        log("external: dpdk-testpmd or the ferrovs binary missing: skipped")
        return None
    secs = 4 if QUICK else 8
    last = cpus() - 1
    log(f"external: testpmd txonly -> memif -> ferrovs run ({mode}, UDP) -> memif -> testpmd, {secs}s")
    with tempfile.TemporaryDirectory(prefix="fvext") as d:
        pool = 'local_address_pool = "snat"' if mode == "fullnat" else ""
        with open(os.path.join(d, "gw.toml"), "w") as f:
            f.write(GW_CONFIG.format(worker_cpu=last, pid=os.getpid(), d=d, mode=mode, pool=pool))
        gw = subprocess.Popen([FERROVS_BIN, "run", "--config", os.path.join(d, "gw.toml")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(400):
            if os.path.exists(os.path.join(d, "lan.sock")) or gw.poll() is not None:
                break
            time.sleep(0.05)
        # ferrovs has a worker queue and control's queue per port; memif pairs queues.
        q = ["--rxq=2", "--txq=2"]
        rx = subprocess.Popen(
            testpmd_cmd(f"fvexr{os.getpid()}", "0@0,1@0",
                        [f"net_memif0,role=client,id=0,socket={d}/lan.sock,socket-abstract=no,mac=02:00:00:00:01:0b"],
                        q + ["--forward-mode=icmpecho"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(3)  # EAL start, memif connect, ferrovs resolves the real server (ARP)
        tx = subprocess.Popen(
            testpmd_cmd(f"fvext{os.getpid()}", "0@0,1@0",
                        [f"net_memif0,role=client,id=0,socket={d}/wan.sock,socket-abstract=no"],
                        q + ["--forward-mode=txonly", "--txpkts=60", "--txonly-multi-flow",
                             "--tx-ip=198.18.0.50,198.18.0.100", "--tx-udp=1024,80",
                             "--eth-peer=0,02:00:00:00:00:10"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(secs)
        stop(tx)
        time.sleep(1)
        stop(rx)
        stop(gw)
        tx_out, rx_out, gw_out = tx.stdout.read(), rx.stdout.read(), gw.stdout.read()
    t, r = testpmd_totals(tx_out), testpmd_totals(rx_out)
    tx_pps, rx_pps = pps_samples(tx_out, "Tx-pps"), pps_samples(rx_out, "Rx-pps")
    res = {"mode": mode, "proto": "udp", "secs": secs, "txonly": t, "receiver": r,
           "tx_pps_samples": tx_pps, "rx_pps_samples": rx_pps,
           "gateway_log_tail": gw_out.splitlines()[-12:]}
    busy = lambda v: sorted(x for x in v if x > 0)
    if busy(tx_pps):
        res["sent_mpps_median"] = busy(tx_pps)[len(busy(tx_pps)) // 2] / 1e6
    if busy(rx_pps):
        res["received_mpps_median"] = busy(rx_pps)[len(busy(rx_pps)) // 2] / 1e6
    if t and r and t["tx"] > 0:
        res["loss"] = max(0.0, 1 - r["rx"] / t["tx"])
        res["sent_mpps_mean"] = t["tx"] / secs / 1e6
        res["received_mpps_mean"] = r["rx"] / secs / 1e6
    log(f"external: sent {t and t['tx']} received {r and r['rx']} "
        f"(mean {res.get('sent_mpps_mean', 0):.2f} -> {res.get('received_mpps_mean', 0):.2f} Mpps)")
    return res


# ---------------------------------------------------------------- report


def crit(results, group, function, param):
    for b in results.get("criterion", {}).get("benches", []):
        if b["group"] == group and b["function"] == function and b["param"] == param:
            return b
    return None


def label(n):
    return f"{n // 1000000}M" if n >= 1000000 else f"{n // 1000}K" if n >= 1000 else str(n)


def ring_get(results, dut, proto, flows=None, step="ring"):
    for r in results.get(step, []):
        if r["dut"] == dut and r.get("proto", "udp") == proto and (flows is None or r["flows"] == flows):
            return r
    return None


def memif_get(results, dut, proto, flows=None):
    return ring_get(results, dut, proto, flows, "memif")


def cycles_ratio(fn, ms):
    """FullNAT's cycles/packet over the reference's, and the measured text; None if either
    lacks a cycle count."""
    c, r = fn.get("dut_cycles_per_packet"), ms.get("dut_cycles_per_packet")
    if not c or not r:
        return None, "no cycle count"
    reps = [x for x in (ms.get("cycles_reps") or []) if x]
    spread = f" (reference {min(reps):.1f}-{max(reps):.1f} over {len(reps)} runs)" if len(reps) > 1 else ""
    return c / r, (f"{c:.1f} / {r:.1f} cycles/packet = {c / r:.2f}x{spread};"
                   f" {fn['mpps']:.2f} / {ms['mpps']:.2f} Mpps")


def targets(results):
    """Each target of issue 18 (and issue 8's memory target): measured value, target, met or
    not (None: not measurable in this run). Reported, never asserted."""
    out = []

    def add(target, measured, met, ratio=None):
        out.append({"target": target, "measured": measured, "met": met, "ratio": ratio})

    for proto in ("udp", "tcp"):
        ms, fn = ring_get(results, "macswap", proto), ring_get(results, "fullnat", proto, 1000000)
        if ms and fn:
            ratio, text = cycles_ratio(fn, ms)
            add(f"FullNAT {proto.upper()} at 1M sessions <= 2x the cycles/packet of macswap"
                " (net_ring; testpmd's macswap loop, testpmd's cycle count)", text,
                None if ratio is None else ratio <= TARGET_CYCLES_VS_MACSWAP, ratio)
    mem_flows = sorted({m["flows"] for m in results.get("memif", []) if m["dut"] == "fullnat"})
    at = 1000000 if 1000000 in mem_flows else (mem_flows or [0])[-1]
    for proto in ("udp", "tcp"):
        ms = memif_get(results, "macswap", proto)
        fn = memif_get(results, "fullnat", proto, at)
        if ms and fn:
            ratio, text = cycles_ratio(fn, ms)
            add(f"FullNAT {proto.upper()} at {label(at)} sessions <= 2x the cycles/packet of"
                " dpdk-testpmd macswap --record-core-cycles (net_memif)", text,
                None if ratio is None else ratio <= TARGET_CYCLES_VS_MACSWAP, ratio)
    for size, limit in TARGET_CRIT_NS.items():
        b = crit(results, "established", "fullnat", size)
        if b:
            ci = b.get("ci_ns_per_packet") or [b["ns_per_packet"]] * 2
            add(f"criterion FullNAT at {size} <= {limit:.0f} ns/packet",
                f"{b['ns_per_packet']:.1f} ns/packet (95% CI {ci[0]:.1f}-{ci[1]:.1f})",
                b["ns_per_packet"] <= limit, limit / b["ns_per_packet"])
    for step in ("ring", "memif"):
        for proto in ("udp", "tcp"):
            for mode in MODES:
                a = ring_get(results, mode, proto, 1000, step)
                b = ring_get(results, mode, proto, 10000000, step)
                if a and b:
                    ratio = b["mpps"] / a["mpps"]
                    add(f"{mode} {proto.upper()} Mpps at 10M >= 70% of 1K (DPDK, net_{step})",
                        f"{b['mpps']:.2f} / {a['mpps']:.2f} Mpps = {ratio:.0%}",
                        ratio >= TARGET_10M_VS_1K, ratio)
    for mode in MODES:
        a, b = crit(results, "established", mode, "1K"), crit(results, "established", mode, "10M")
        if a and b:
            ratio = b["mpps"] / a["mpps"]
            add(f"{mode} Mpps at 10M >= 70% of 1K (criterion, pipeline only)",
                f"{b['mpps']:.2f} / {a['mpps']:.2f} Mpps = {ratio:.0%}", ratio >= TARGET_10M_VS_1K, ratio)
    b = crit(results, "new_sessions", "fullnat", "1M_table")
    if b:
        rate = b["mpps"] * 1e6
        add("FullNAT new sessions/s per worker >= 2.5M (criterion)",
            f"{rate / 1e6:.2f} M/s ({b['ns_per_packet']:.0f} ns per SYN)",
            rate >= TARGET_NEW_SESSIONS, rate / TARGET_NEW_SESSIONS)
    sc = results.get("scaling")
    by_n = {x["workers"]: x for x in (sc or {}).get("runs", [])}
    if 1 in by_n and 8 in by_n:
        for step in ("ring", "memif"):
            a, b = by_n[1].get(f"{step}_mpps"), by_n[8].get(f"{step}_mpps")
            if a and b:
                add(f"1 -> 8 workers >= 7x ({step})", f"{b:.2f} / {a:.2f} Mpps = {b / a:.2f}x",
                    b / a >= TARGET_SCALING_8, b / a)
    elif committed := committed_scaling():
        paths, med, m = committed
        for step in ("ring", "memif"):
            a, b = med[(1, step)], med[(8, step)]
            add(f"1 -> 8 workers >= 7x ({step})",
                f"{b:.2f} / {a:.2f} Mpps = {b / a:.2f}x, medians of {len(paths)} committed"
                f" `--scaling` rounds on another machine ({m.get('cpus')} CPUs, {m.get('cpu_model', '?')},"
                f" commit {m.get('git', '?')}: results/{os.path.basename(paths[0])} and on), not this run",
                b / a >= TARGET_SCALING_8, b / a)
    else:
        done = ", ".join(str(n) for n in sorted(by_n)) or "none"
        add("1 -> 8 workers >= 7x", f"not measured (worker counts run: {done}; `benches/run.py"
            " --scaling 1,2,4,8` needs 16 CPUs)", None)
    for m in results.get("criterion", {}).get("memory", []):
        if m["family"] == "IPv4":
            add("IPv4 table memory <= 96 bytes/session, both directions indexed (issue 8)",
                f"{m['bytes_per_session']:.1f} bytes/session at {m['capacity']} capacity",
                m["bytes_per_session"] <= TARGET_BYTES_PER_SESSION,
                TARGET_BYTES_PER_SESSION / m["bytes_per_session"])
    return out


def plots(results, stem):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("plots: python3-matplotlib missing (make deps): skipped")
        return []
    files = []
    if results.get("ring"):
        files.append(mpps_plot(plt, results, "ring", "testpmd {} loop", stem))
    cb = results.get("criterion", {}).get("benches", [])
    if cb:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        sizes = results["criterion"]["sizes"]
        for mode in MODES + ["nat_reply", "fullnat_reply"]:
            pts = [(n, crit(results, "established", mode, label(n))) for n in sizes]
            pts = [(n, b["mpps"]) for n, b in pts if b]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=mode)
        ax.set_xscale("log")
        ax.set_xlabel("live sessions")
        ax.set_ylabel("Mpps (pipeline only, no DPDK)")
        ax.set_title("criterion: Worker::process on established flows")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        files.append(f"{stem}-criterion-mpps.png")
        fig.savefig(os.path.join(RESULTS, files[-1]), dpi=100)
        plt.close(fig)
        ns = [(m, crit(results, "new_sessions", m, "1M_table")) for m in ("dr", "fullnat")]
        ns = [(m, b["mpps"]) for m, b in ns if b]
        if ns:
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.bar([m for m, _ in ns], [v for _, v in ns], color="tab:blue")
            ax.axhline(TARGET_NEW_SESSIONS / 1e6, color="red", linestyle="--", label="target 2.5 M/s (FullNAT)")
            ax.axhline(0.2, color="gray", linestyle=":", label="DPVS 200 k/s per worker")
            ax.set_ylabel("million new sessions per second")
            ax.set_title("new sessions per second, one worker (criterion)")
            ax.legend(fontsize=8)
            fig.tight_layout()
            files.append(f"{stem}-new-sessions.png")
            fig.savefig(os.path.join(RESULTS, files[-1]), dpi=100)
            plt.close(fig)
    if results.get("memif"):
        files.append(mpps_plot(plt, results, "memif", "dpdk-testpmd {}", stem))
    return files


def mpps_plot(plt, results, step, ref_label, stem):
    """A DPDK step's plot, one panel per protocol: each mode's Mpps against its flows, and the
    references as horizontal lines (`ref_label` names them). Returns the file's name."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    frames = "/".join(str(f) for f in sorted({r.get("frame_bytes", 64) for r in results[step]}))
    for ax, proto in zip(axes, ("udp", "tcp")):
        for mode in MODES:
            pts = sorted((r["flows"], r["mpps"]) for r in results[step]
                         if r["dut"] == mode and r.get("proto", "udp") == proto)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"ferrovs {mode}")
        for ref, style in (("macswap", "--"), ("io", ":")):
            r = ring_get(results, ref, proto, None, step)
            if r:
                ax.axhline(r["mpps"], linestyle=style, color="black",
                           label=f"{ref_label.format(ref)} ({r['mpps']:.1f})")
        ax.set_xscale("log")
        ax.set_xlabel("live sessions (= concurrent flows)")
        ax.set_title(f"{proto.upper()}, {frames}-byte frames, 1 worker lcore, net_{step}")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("Mpps forwarded")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    name = f"{stem}-{step}-mpps.png"
    fig.savefig(os.path.join(RESULTS, name), dpi=100)
    plt.close(fig)
    return name


def memif_section(results, mem):
    """The summary's net_memif section: Mpps and cycles/packet of every mode and flow count
    against dpdk-testpmd on the same path."""
    flows = sorted({m["flows"] for m in mem if m["dut"] in MODES})
    ref = next((m["flows"] for m in mem if m["peer"] == "testpmd"), None)
    L = ["## net_memif, generator process to DUT process\n",
         "dpdk-testpmd ran three times for each protocol (before, between and after the ferrovs"
         " modes" + (f"; at {label(ref)} flows, which it forwards alike, shown once for every"
                     " column" if ref else "") + "): median, (min–max). Mpps received back by the"
         " generator, and in brackets the share of its iterations that found the DUT's queue full"
         " (near 100%: the DUT set the rate; low: the generator did, and the DUT can do more).\n"]
    L += dut_table(results, "memif", flows, "dpdk-testpmd",
                   lambda r, _: f"{r['mpps']:.2f} ({r.get('gen_queue_full_share', 0):.0%})", "mpps_reps", ".1f")
    L.append("\n### Cycles per packet on the DUT, net_memif\n")
    L.append("testpmd's are its own `--record-core-cycles` \"CPU cycles/packet\" over the whole run;"
             " ferrovs's the worker's `busy_cycles` over the frames received in the generator's"
             " measurement window (the memif-dut process samples them every 50 ms). In brackets: Mpps."
             " Ratio: the mode's cycles over testpmd macswap's (median of its runs) for the same"
             " protocol.\n")
    L += cycles_table(results, "memif", flows, "dpdk-testpmd")
    L.append(tables_note(mem))
    L.append(layout_note(mem))
    return L


def layout_note(mem):
    """What memif layout and frames the memif cases ran with (runs before 5 December have no
    `memif_bsize`: they ran on memif's 2048-byte buffers)."""
    sizes = sorted({m.get("memif_bsize", 2048) for m in mem})
    frames = sorted({m.get("frame_bytes", 64) for m in mem})
    return ("\nBoth DUTs' memif client buffers: " + ", ".join(f"{b} bytes" for b in sizes)
            + (" (memif's default)" if sizes == [2048] else "")
            + "; frames of " + ", ".join(f"{f}" for f in frames) + " bytes on the wire.\n")


def dut_table(results, step, flows, ref_name, cell, reps_key, reps_fmt):
    """A summary table of a DPDK step: a row per DUT and protocol, a column per flow count, the
    references once (the spread of their runs after the first cell). `cell(r, ms)` writes a
    case's cell from its result and the macswap reference's, "" for none."""
    L = ["| DUT | proto | " + " | ".join(label(f) for f in flows) + " |", "|---|---|" + "---|" * len(flows)]
    for dut in ["io", "macswap"] + MODES:
        for proto in ("udp", "tcp"):
            ms = ring_get(results, "macswap", proto, None, step)
            cells = []
            for f in flows:
                r = ring_get(results, dut, proto, None if dut in ("io", "macswap") else f, step)
                cells.append(cell(r, ms) if r else "")
            if any(cells):
                if dut in ("io", "macswap"):
                    reps = [x for x in (r or {}).get(reps_key, []) if x]
                    if len(reps) > 1:
                        cells[0] += f" ({min(reps):{reps_fmt}}–{max(reps):{reps_fmt}})"
                    cells = [cells[0]] + ["″"] * (len(cells) - 1)
                name = f"{ref_name} {dut}" if dut in ("io", "macswap") else f"ferrovs {dut}"
                L.append(f"| {name} | {proto} | " + " | ".join(cells) + " |")
    return L


def cycles_cell(r, ms):
    """Cycles a packet, Mpps and frames a busy poll, and for a mode its ratio to macswap's."""
    c = r.get("dut_cycles_per_packet")
    if not c:
        return ""
    burst = r.get("dut_rx_per_busy_poll")
    cell = f"{c:.0f} ({r['mpps']:.2f}" + (f", {burst:.0f}/poll)" if burst else ")")
    if r["dut"] in MODES and ms and ms.get("dut_cycles_per_packet"):
        cell += f" **{c / ms['dut_cycles_per_packet']:.2f}x**"
    return cell


def cycles_table(results, step, flows, ref_name):
    """The summary's cycles/packet table of a DPDK step."""
    return dut_table(results, step, flows, ref_name, cycles_cell, "cycles_reps", ".0f")


# Runnable tasks beyond the CPUs that a case may see from the bench's own driver: run.py and
# the processes it starts and stops between cases. The ring and memif cases' generator and DUT
# poll on two CPUs, so on a 2-CPU machine they alone read as a load of 2, and this driver's
# share took the 1-minute average to 2.04-2.08 in runs where nothing else ran (session 21).
OWN_LOAD_MARGIN = 0.5


def overloaded(results):
    """A description of the load if the machine was busier than its CPUs (plus the driver's own
    margin) at the start of the run or in any measured case (the 1-minute load average each
    case records), else None."""
    n = results["machine"]["cpus"]
    loads = [float(results["machine"]["loadavg_at_start"][0])]
    for step in ("ring", "memif"):
        loads += [r["loadavg_1m"] for r in results.get(step, []) if r.get("loadavg_1m", -1) >= 0]
    worst = max(loads)
    return f"1-minute load average up to {worst:.1f} on {n} CPUs" if worst > n + OWN_LOAD_MARGIN else None


def summary(results, stem, files):
    L = []
    mach = results["machine"]
    L.append(f"# ferrovs benchmark results, {results['timestamp']}\n")
    L.append(f"Machine: {mach.get('cpu_model', '?')}, {mach['cpus']} CPUs"
             f" ({mach.get('hypervisor_vendor', 'bare metal')}), {mach['mem_gib']} GiB,"
             f" kernel {mach['kernel']}, DPDK {mach.get('dpdk', '?')}, {mach.get('rustc', '')},"
             f" commit {mach.get('git', '?')}; load average at start {' '.join(mach['loadavg_at_start'])}.\n")
    L.append("Method and caveats: `benches/README.md`.\n")
    busy = overloaded(results)
    if busy:
        L.append(f"**Warning: {busy}.** Every DUT shared its CPU with other work: its TSC cycles include the"
                 " time it was descheduled and its rates are the host's, not ferrovs's; the verdicts"
                 " below are not reliable.\n")
    if results.get("reused"):
        r = results["reused"]
        L.append(f"Steps {', '.join(r['steps'])} are taken from the earlier run {r['from']}.\n")
    t = results.get("targets", [])
    if t:
        L.append("## Targets (issue 18; measured, never asserted)\n")
        L.append("| target | measured | met |\n|---|---|---|")
        for x in t:
            met = {True: "yes", False: "**no**", None: "not measurable here"}[x["met"]]
            L.append(f"| {x['target']} | {x['measured']} | {met} |")
        L.append("")
        w = tlb_walks(results.get("tlb", {}))
        if w and w[1]:
            L.append(f"This machine walks the page tables for huge pages (4096 pages scattered over"
                     f" {results['tlb']['mib']} MiB: {w[0]['spread_ns']} ns a load against"
                     f" {w[0]['packed_ns']} packed; next section), so its 1M and 10M rows pay a walk"
                     " for most lookups: read the 10M/1K and 1M-against-macswap targets with that.\n")
    if results.get("tlb"):
        L += tlb_section(results["tlb"])
    ring = results.get("ring", [])
    if ring:
        L.append("## DPDK worker loop, net_ring (Mpps received back by the generator; median of 5 windows)\n")
        L.append("References ran three times (before, between and after the ferrovs modes): median, (min–max).\n")
        flows = sorted({r["flows"] for r in ring if r["dut"] in MODES})
        L += dut_table(results, "ring", flows, "testpmd-style", lambda r, _: f"{r['mpps']:.2f}",
                       "mpps_reps", ".1f")
        L.append("\nShare of generator iterations that found the DUT's queue full (near 100%: the DUT set the"
                 " rate; low: the generator did, and the DUT can do more): " + ", ".join(
                     f"{r['dut']} {r['proto']} {label(r['flows'])} {r.get('gen_queue_full_share', 0):.0%}"
                     for r in ring if r["dut"] in ("io", "macswap") or r["flows"] in (1000, 1000000)) + ".\n")
        L.append("### Cycles per packet on the DUT, net_ring\n")
        L.append("TSC cycles of the DUT iterations that received frames over the frames received, in the"
                 " measurement window (testpmd's `--record-core-cycles` \"CPU cycles/packet\"; the"
                 " references count as testpmd does, per RX-to-TX burst). In brackets: Mpps, and frames per"
                 " busy iteration (the burst the per-iteration cost is spread over). Ratio: the mode's"
                 " cycles over the macswap loop's (median of its runs).\n")
        L += cycles_table(results, "ring", flows, "testpmd-style")
        L.append(tables_note(ring))
    idle = results.get("idle")
    if idle:
        L.append("## Idle mode: busy polling against sleep (`[dpdk] idle`)\n")
        L.append("Full load, net_ring, UDP, 1K flows (Mpps; each pair measured back to back, twice):\n")
        L.append("| DUT | busy | sleep | DUT sleeps in the window (sleep) |\n|---|---|---|---|")
        for dut in ("dr", "fullnat"):
            b = [r for r in idle["full_load"] if r["dut"] == dut and r.get("idle") == "busy"]
            s = [r for r in idle["full_load"] if r["dut"] == dut and r.get("idle") == "sleep"]
            if b and s:
                bm = ", ".join("%.2f" % r["mpps"] for r in b)
                sm = ", ".join("%.2f" % r["mpps"] for r in s)
                sl = ", ".join(str(r.get("dut_idle_sleeps_in_window", 0)) for r in s)
                L.append(f"| {dut} | {bm} | {sm} | {sl} |")
        lat = idle.get("latency", [])
        if lat:
            L.append("\nRound trip at 1000 frames/s, DR, one frame at a time (microseconds):\n")
            L.append("| idle | p50 | p90 | p99 | max | received / sent | DUT sleeps |\n|---|---|---|---|---|---|---|")
            for r in lat:
                L.append(f"| {r['idle']} | {r['rtt_us_p50']:.1f} | {r['rtt_us_p90']:.1f} | {r['rtt_us_p99']:.1f} |"
                         f" {r['rtt_us_max']:.1f} | {r['received']} / {r['sent']} | {r['dut_idle_sleeps_in_window']} |")
        L.append("")
    mem = results.get("memif", [])
    if mem:
        L += memif_section(results, mem)
    ext = results.get("external")
    if ext:
        L.append("## External generator: testpmd txonly -> `ferrovs run` -> testpmd\n")
        L.append(f"Mode {ext['mode']} UDP, {ext['secs']} s: sent {ext.get('txonly', {}) and ext['txonly']['tx']},"
                 f" received {ext.get('receiver', {}) and ext['receiver']['rx']},"
                 f" loss {ext.get('loss', float('nan')):.1%}; mean rates over the sending time"
                 f" {ext.get('sent_mpps_mean', 0):.2f} Mpps sent, {ext.get('received_mpps_mean', 0):.2f} Mpps received.\n")
        L.append("The gateway's own counters at exit:\n\n```\n" + "\n".join(
            exit_counters(ext.get("gateway_log_tail", []))) + "\n```\n")
    cb = results.get("criterion", {}).get("benches", [])
    if cb:
        L.append("## criterion (pipeline only, no DPDK): ns/packet (Mpps)\n")
        sizes = results["criterion"]["sizes"]
        L.append("| mode | " + " | ".join(label(n) for n in sizes) + " |")
        L.append("|---|" + "---|" * len(sizes))
        for mode in ["dr", "nat", "nat_reply", "tun", "fullnat", "fullnat_reply"]:
            cells = []
            for n in sizes:
                b = crit(results, "established", mode, label(n))
                cells.append(f"{b['ns_per_packet']:.1f} ({b['mpps']:.1f})" if b else "")
            L.append(f"| {mode} | " + " | ".join(cells) + " |")
        h = crit(results, "harness", "reset_only", None)
        if h:
            L.append(f"\nHarness (copying the templates into the frames) alone: {h['ns_per_packet']:.1f} ns/packet, included above.")
        for mode in ("dr", "fullnat"):
            b = crit(results, "new_sessions", mode, "1M_table")
            if b:
                L.append(f"\nNew sessions ({mode}): {b['mpps']:.2f} M/s ({b['ns_per_packet']:.0f} ns per SYN).")
        placed = sorted({t["placed"] for t in results["criterion"].get("tables", []) if t.get("placed")},
                        key=lambda p: (len(p), p))
        # Older runs put criterion's tables on normal pages and did not say so.
        L.append("\ncriterion's session tables: " + ("; ".join(placed) if placed else "normal 4 KiB pages (not recorded)") + ".")
        for m in results["criterion"].get("memory", []):
            L.append(f"\nMemory: {m['family']} table at {m['capacity']} capacity: {m['bytes']} bytes = {m['bytes_per_session']:.1f} bytes/session.")
        L.append("")
    if files:
        L.append("## Plots\n")
        for f in files:
            L.append(f"![{f}]({f})")
    with open(os.path.join(RESULTS, f"{stem}.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def report_only(path):
    """Re-derive targets, plots and the summary from a results JSON (after changing the report)."""
    with open(path) as f:
        results = json.load(f)
    stem = os.path.basename(path)[: -len(".json")]
    results["targets"] = targets(results)
    if PLOTS:
        results["plots"] = plots(results, stem)
    results.setdefault("plots", [])
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    summary(results, stem, results["plots"])
    redrawn = f"{len(results['plots'])} plots" if PLOTS else "no plots (FERROVS_BENCH_PLOTS=0)"
    log(f"rewrote {stem}.md and {redrawn} from {path}")


# ---------------------------------------------------------------- scaling (issue 18 item 5)


# Seconds from launch to the common window: a fixed part plus one per pair (prefills of 1M
# sessions take about a second; memif pairs also start in turn). A pair later than that
# opens its window late, which the overlap column shows.
START_LEAD_S = (2.0, 0.25)


def overlap(windows):
    """Share of the mean window during which every process was measuring at once."""
    lo, hi = max(w[0] for w in windows), min(w[1] for w in windows)
    mean = sum(w[1] - w[0] for w in windows) / len(windows)
    return max(0.0, hi - lo) / mean if mean > 0 else 0.0


def scaling_ring(n, mode, flows):
    """n independent generator + worker pairs over net_ring, one process each, all at once;
    pair i's generator on CPU 2i, its worker on CPU 2i+1 (each main lcore sleeps beside its
    generator)."""
    procs = []
    start_at = time.time() + START_LEAD_S[0] + START_LEAD_S[1] * n
    for i in range(n):
        g, d = 2 * i, 2 * i + 1
        procs.append(subprocess.Popen(
            [BENCH_BIN, "ring", "--duts", mode, "--flows", str(flows), "--protos", "udp",
             "--secs", SECS, "--lcores", f"0@{g},1@{g},2@{d}", "--prefix", f"fvsc{os.getpid()}r{i}",
             "--start-at", f"{start_at:.3f}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    rs = []
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            raise SystemExit(f"scaling: ring pair {i} failed:\n{err[-2000:]}")
        rs += json_lines(out)
    return rs


def scaling_memif(n, mode, flows, tmp):
    """n generator processes (CPU 2i) each with a ferrovs worker process (CPU 2i+1) over
    net_memif, all at once."""
    pairs = []
    # The pairs start one after another (each DUT waits for its generator's socket).
    start_at = time.time() + START_LEAD_S[0] + 2 * START_LEAD_S[1] * n
    for i in range(n):
        g, d = 2 * i, 2 * i + 1
        dr = tempfile.mkdtemp(dir=tmp)
        gen = subprocess.Popen(
            [BENCH_BIN, "memif-gen", "--dir", dr, "--dut", mode, "--proto", "udp", "--flows", str(flows),
             "--peer", "ferrovs", "--secs", SECS, "--lcores", f"0@{g},1@{g}",
             "--prefix", f"fvsc{os.getpid()}g{i}", "--hold", "--start-at", f"{start_at:.3f}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(200):
            if os.path.exists(os.path.join(dr, "m1.sock")) or gen.poll() is not None:
                break
            time.sleep(0.05)
        dut_out = open(os.path.join(dr, "dut.out"), "w+")
        dut = subprocess.Popen(
            [BENCH_BIN, "memif-dut", "--dir", dr, "--sessions", str(flows),
             "--lcores", f"0@{d},1@{d}", "--prefix", f"fvsc{os.getpid()}d{i}"] + bsize_args(),
            stdout=dut_out, stderr=subprocess.DEVNULL)
        pairs.append((gen, dut, dut_out))
    rs = []
    for i, (gen, dut, dut_out) in enumerate(pairs):
        line = gen.stdout.readline()
        stop(dut)
        rest, err = gen.communicate(timeout=120)
        if gen.returncode != 0 or not line.strip():
            raise SystemExit(f"scaling: memif pair {i} failed:\n{err[-2000:]}")
        r = json_lines(line + rest)[0]
        r["memif_bsize"] = memif_bsize(memif_vdevs(dr)[0])
        dut_out.seek(0)
        r.update(window_cycles(json_lines(dut_out.read()), r["window_unix"]))
        dut_out.close()
        rs.append(r)
    return rs


def scaling(counts):
    """Issue 18 item 5: the ring and memif steps with 1, 2, 4, 8 ... workers, each worker
    with its own generator on its own CPU; refuses the counts this machine lacks CPUs for."""
    mode = os.environ.get("FERROVS_SCALING_MODE", "fullnat")
    flows = int(os.environ.get("FERROVS_SCALING_FLOWS", "1000000"))
    os.makedirs(RESULTS, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    stem = now.strftime("%Y%m%dT%H%M%SZ") + "-scaling"
    res = {"timestamp": now.isoformat(timespec="seconds"), "machine": machine(), "mode": mode,
           "flows_per_worker": flows, "secs": float(SECS), "runs": [], "refused": []}
    for n in counts:
        need = 2 * n
        if cpus() < need:
            msg = (f"{n} workers need {need} CPUs (a generator and a worker per pair, each on its"
                   f" own CPU), this machine has {cpus()}: NOT RUN")
            log(f"scaling: {msg}")
            res["refused"].append({"workers": n, "reason": msg})
            continue
        log(f"scaling: {n} worker(s), {mode} UDP, {label(flows)} flows each, ring then memif")
        run = {"workers": n, "loadavg_before": os.getloadavg()[0]}
        ring = scaling_ring(n, mode, flows)
        run["ring"] = ring
        run["ring_mpps"] = sum(r["mpps"] for r in ring)
        run["ring_window_overlap"] = overlap([r["window_unix"] for r in ring])
        with tempfile.TemporaryDirectory(prefix="fvscale") as tmp:
            mem = scaling_memif(n, mode, flows, tmp)
        run["memif"] = mem
        run["memif_mpps"] = sum(r["mpps"] for r in mem)
        run["memif_window_overlap"] = overlap([r["window_unix"] for r in mem])
        for step in ("ring", "memif"):
            run[f"{step}_late_s_max"] = max(r.get("start_late_s") or 0.0 for r in run[step])
            cyc = [r.get("dut_cycles_per_packet") for r in run[step] if r.get("dut_cycles_per_packet")]
            run[f"{step}_cycles_per_packet_mean"] = sum(cyc) / len(cyc) if cyc else None
        log(f"scaling: {n} worker(s): ring {run['ring_mpps']:.2f} Mpps (windows overlap"
            f" {run['ring_window_overlap']:.0%}), memif {run['memif_mpps']:.2f} Mpps"
            f" (overlap {run['memif_window_overlap']:.0%})")
        res["runs"].append(run)
    with open(os.path.join(RESULTS, f"{stem}.json"), "w") as f:
        json.dump(res, f, indent=1)
    L = [f"# ferrovs scaling across workers, {res['timestamp']}\n"]
    m = res["machine"]
    L.append(f"Machine: {m.get('cpu_model', '?')}, {m['cpus']} CPUs ({m.get('hypervisor_vendor', 'bare metal')}),"
             f" {m['mem_gib']} GiB, commit {m.get('git', '?')}; load average at start"
             f" {' '.join(m['loadavg_at_start'])}. Mode {mode}, UDP, {label(flows)} flows per worker,"
             f" {SECS} s windows. Method: `benches/README.md`, section Scaling.\n")
    L.append("| workers | ring Mpps (sum) | x vs 1 | ring cycles/packet (mean) | windows overlap | memif Mpps (sum)"
             " | x vs 1 | memif cycles/packet (mean) | windows overlap | load before |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    base = res["runs"][0] if res["runs"] and res["runs"][0]["workers"] == 1 else None
    for r in res["runs"]:
        x = lambda k: f"{r[k] / base[k]:.2f}x" if base and base[k] else ""
        c = lambda k: f"{r[k]:.0f}" if r[k] else "-"
        # Older result files have no lateness; a pair that opened its window late is named.
        ov = lambda step: f"{r[step + '_window_overlap']:.0%}" + (
            f" ({r[step + '_late_s_max']:.1f} s late)" if r.get(step + "_late_s_max", 0) > 0.05 else "")
        L.append(f"| {r['workers']} | {r['ring_mpps']:.2f} | {x('ring_mpps')} | {c('ring_cycles_per_packet_mean')}"
                 f" | {ov('ring')} | {r['memif_mpps']:.2f} | {x('memif_mpps')}"
                 f" | {c('memif_cycles_per_packet_mean')} | {ov('memif')} | {r['loadavg_before']:.1f} |")
    for r in res["refused"]:
        L.append(f"\n- {r['reason']}")
    by_n = {r["workers"]: r for r in res["runs"]}
    L.append("\nTarget (issue 18): 1 -> 8 workers >= 7x: " + (
        f"ring {by_n[8]['ring_mpps'] / by_n[1]['ring_mpps']:.2f}x, memif"
        f" {by_n[8]['memif_mpps'] / by_n[1]['memif_mpps']:.2f}x" if 1 in by_n and 8 in by_n
        else "not measured (8 workers were not run)") + ".")
    with open(os.path.join(RESULTS, f"{stem}.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    log(f"scaling: wrote benches/results/{stem}.json and .md")
    if res["refused"]:
        log(f"scaling: WARNING: {len(res['refused'])} worker count(s) not run for lack of CPUs")
    return 0 if res["runs"] else 2


def rounds_medians(paths):
    """{(workers, step): median summed Mpps} and {(workers, step): median of the pairs' mean
    DUT cycles/packet} over several `--scaling` result files."""
    runs = {}
    for p in paths:
        with open(p) as f:
            for r in json.load(f)["runs"]:
                for step in ("ring", "memif"):
                    runs.setdefault((r["workers"], step), []).append(r)
    mpps = {k: statistics.median(r[f"{k[1]}_mpps"] for r in rs) for k, rs in runs.items()}
    cyc = {}
    for k, rs in runs.items():
        c = [r[f"{k[1]}_cycles_per_packet_mean"] for r in rs if r.get(f"{k[1]}_cycles_per_packet_mean")]
        cyc[k] = statistics.median(c) if c else None
    return mpps, cyc, runs


def committed_scaling():
    """The newest committed set of `--scaling` rounds that ran 1 and 8 workers with a common
    window (`--start-at`): (paths, medians, machine), or None. Rounds belong together when
    they share the machine and the commit."""
    groups = {}
    for p in sorted(glob.glob(os.path.join(RESULTS, "*-scaling.json"))):
        with open(p) as f:
            d = json.load(f)
        ns = {r["workers"] for r in d.get("runs", [])}
        aligned = all("ring_late_s_max" in r for r in d.get("runs", []))
        if {1, 8} <= ns and aligned:
            m = d["machine"]
            groups.setdefault((m.get("cpu_model"), m.get("cpus"), m.get("git")), []).append((p, m))
    if not groups:
        return None
    newest = max(groups.values(), key=lambda g: g[-1][0])
    paths = [p for p, _ in newest]
    return paths, rounds_medians(paths)[0], newest[-1][1]


def scaling_rounds(paths):
    """Medians over several `--scaling` result files (rounds on one machine): each count's
    summed Mpps (median, min-max), the speedup of the medians over one worker, and the pairs'
    mean DUT cycles/packet (median over rounds). Prints markdown; writes nothing."""
    mpps, cyc, runs = rounds_medians(paths)
    print(f"{len(paths)} rounds: " + ", ".join(os.path.basename(p) for p in paths) + "\n")
    print("| workers | step | Mpps (sum), median | min-max | x vs 1 (medians) | DUT cycles/packet, median |"
          " Mpps per worker |")
    print("|---|---|---|---|---|---|---|")
    for (n, step) in sorted(runs, key=lambda k: (k[0], k[1] != "ring")):
        all_mpps = [r[f"{step}_mpps"] for r in runs[(n, step)]]
        m, base = mpps[(n, step)], mpps.get((1, step))
        x = f"{m / base:.2f}x" if base else "-"
        c = f"{cyc[(n, step)]:.0f}" if cyc[(n, step)] else "-"
        print(f"| {n} | {step} | {m:.2f} | {min(all_mpps):.2f}-{max(all_mpps):.2f} | {x} | {c} | {m / n:.2f} |")
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--scaling-rounds":
        return scaling_rounds(sys.argv[2:])
    if len(sys.argv) == 3 and sys.argv[1] == "--report":
        return report_only(sys.argv[2])
    if len(sys.argv) == 3 and sys.argv[1] == "--scaling":
        sys.exit(scaling([int(x) for x in sys.argv[2].split(",")]))
    os.makedirs(RESULTS, exist_ok=True)
    t0 = time.time()
    now = datetime.datetime.now(datetime.timezone.utc)
    stem = now.strftime("%Y%m%dT%H%M%SZ")
    results = {"timestamp": now.isoformat(timespec="seconds"), "machine": machine(),
               "settings": {"quick": QUICK, "secs": float(SECS), "ring_flows": FLOWS,
                            "memif_flows": MEMIF_FLOWS, "memif_bsize": MEMIF_BSIZE or "gateway default",
                            "memif_frame_bytes_on_wire": FRAME_BYTES + 4, "ring_lcores": lcore_map(2)}}
    reuse = {}
    if os.environ.get("FERROVS_BENCH_REUSE"):
        with open(os.environ["FERROVS_BENCH_REUSE"]) as f:
            reuse = json.load(f)
        results["reused"] = {"from": os.path.basename(os.environ["FERROVS_BENCH_REUSE"]),
                             "steps": sorted(k for k in SKIP if k in reuse)}
    for step, fn in (("tlb", run_tlb), ("criterion", run_criterion), ("ring", run_ring), ("idle", run_idle),
                     ("memif", run_memif), ("external", run_external)):
        if step not in SKIP:
            results[step] = fn()
        elif step in reuse:
            results[step] = reuse[step]
    results["targets"] = targets(results)
    results["elapsed_s"] = round(time.time() - t0, 1)
    files = plots(results, stem) if PLOTS else []
    results["plots"] = files
    with open(os.path.join(RESULTS, f"{stem}.json"), "w") as f:
        json.dump(results, f, indent=1)
    summary(results, stem, files)
    log(f"done in {results['elapsed_s']:.0f}s: benches/results/{stem}.json, {stem}.md, {len(files)} plots")
    if overloaded(results):
        log(f"WARNING: {overloaded(results)}: the DUTs shared their CPU; figures and verdicts are not reliable")
    for x in results["targets"]:
        met = {True: "met    ", False: "MISSED ", None: "unknown"}[x["met"]]
        log(f"target {met} {x['target']}: {x['measured']}")


if __name__ == "__main__":
    main()
