#!/usr/bin/env python3
"""lxcrs vs LXC, side by side, in one run.

    sudo make bench                     # build lxcrs, run every scenario, write BENCHMARKS.md
    sudo python3 bench/bench.py -h      # options: --runs, --only, --output, --list, --keep

Both implementations are measured alternately in the same run (iteration i runs lxcrs
first when i is even, LXC first when it is odd), each with its own lxcpath under one temp
dir, by explicit path: lxcrs through a private bin dir of `lxc-*` links to a snapshot of
`make build`'s target/dist/lxcrs (+ lxcrs-monitor beside it), LXC as /usr/bin/lxc-*. Iteration 0 of
every scenario is a warm-up and is not counted. The report gives medians, min-max and the
ratio lxcrs/LXC (medians), and marks each target met or missed.

A scenario is a function decorated with @scenario: it sets up its containers, loops over
ctx.iterations() and ctx.order(i), records samples with ctx.time()/ctx.record(), and
tears down in a finally block. Failures of a tool are recorded with their error text
(ctx.fail) and the scenario goes on with the next iteration. Whatever happens, cleanup()
stops and destroys every container of the run, kills its leftover processes, removes its
mounts, cgroups, lock dirs, the test bridge and the temp dir.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LXCRS_TOOLS = ["attach", "cgroup", "config", "console", "create", "destroy", "execute",
               "freeze", "info", "ls", "start", "stop", "unfreeze", "update-config", "wait"]
try:  # the Makefile's TOOLS list is the reference when present
    _m = re.search(r"(?m)^TOOLS\s*:=\s*(.+)$", (REPO / "Makefile").read_text())
    if _m:
        LXCRS_TOOLS = sorted(set(LXCRS_TOOLS) | set(_m.group(1).split()))
except OSError:
    pass
BRIDGE = "lxcbench0"
BRIDGE_ADDR = "10.0.99.1/24"
DEBIAN_RELEASE = "bookworm"
# Memory is sampled this long after the last request to a monitor: the steady state of a
# running container, not the pages a request just touched (lxcrs's monitor gives those back
# after 1 s of quiet; LXC's keeps them).
MEM_QUIET = 1.5
# Every timed command starts after this much quiet (nothing of the benchmark running). On
# this kind of host the first cgroup migration after a quiet spell waits an RCU grace period
# (the `kernel` probe) and the next ones within a grace period do not: without the pause,
# whichever implementation runs second would inherit the first one's paid wait. A user's
# `lxc-start` usually comes after such a pause too.
QUIET = 0.05
LXCRS_DEBIAN_CACHE = Path(f"/var/cache/lxc/lxcrs-debian/rootfs-{DEBIAN_RELEASE}-amd64")
LXC_DEBIAN_CACHE = Path(f"/var/cache/lxc/debian/rootfs-{DEBIAN_RELEASE}-amd64")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class CmdError(Exception):
    """A command failed (non-zero exit, timeout, or wrong result)."""


# ----------------------------------------------------------------------------- running

def wait_exact(p, timeout):
    """Waits for Popen `p` to exit; its exit code, or None after killing it at `timeout`.
    Not Popen.wait(timeout=...): that polls with sleeps doubling up to 50 ms, so every
    time measured through it snaps to about 16, 32 or 64 ms. A pidfd wakes us the moment
    the process exits."""
    fd = os.pidfd_open(p.pid)
    try:
        ready = select.select([fd], [], [], timeout)[0]
    finally:
        os.close(fd)
    if not ready:
        p.kill()
        p.wait()
        return None
    return p.wait()


def run(argv, env=None, timeout=120.0, check=True, what=None):
    """Runs argv with output captured in files (never pipes: a daemonized child that keeps
    a pipe open would make us wait for it). Returns (seconds, rc, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        rc = wait_exact(p, timeout)
        secs = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        so = out.read().decode(errors="replace")
        se = err.read().decode(errors="replace")
    if check and rc != 0:
        cmd = what or " ".join(str(a) for a in argv)
        why = f"timed out after {timeout:.0f} s" if rc is None else f"exit {rc}"
        text = "\n".join(t for t in (so.strip()[-800:], se.strip()[-1200:]) if t)
        raise CmdError(f"`{cmd}`: {why}" + (f": {text}" if text else ""))
    return secs, rc, so, se


class Impl:
    """One implementation: its binaries, lxcpath and environment."""

    def __init__(self, key, label, bindir, lxcpath, env, create_args):
        self.key, self.label = key, label
        self.bindir, self.lxcpath = Path(bindir), Path(lxcpath)
        self.env, self.create_args = env, list(create_args)

    def argv(self, tool, *args):
        return [str(self.bindir / f"lxc-{tool}"), "-P", str(self.lxcpath), *map(str, args)]

    def run(self, tool, *args, timeout=120.0, check=True):
        what = f"{self.bindir}/lxc-{tool} {' '.join(map(str, args))}"
        return run(self.argv(tool, *args), env=self.env, timeout=timeout, check=check, what=what)

    def timed(self, tool, *args, timeout=120.0, quiet=True):
        if quiet:
            time.sleep(QUIET)
        return self.run(tool, *args, timeout=timeout)[0]

    def out(self, tool, *args, timeout=60.0):
        return self.run(tool, *args, timeout=timeout)[2]

    def state(self, name):
        _, rc, so, se = self.run("info", "-n", name, "-s", check=False, timeout=30)
        m = re.search(r"\b(STOPPED|STARTING|RUNNING|STOPPING|ABORTING|FREEZING|FROZEN|THAWED)\b", so)
        return m.group(1) if m else f"unknown (exit {rc}: {(se or so).strip()[:200]})"

    def init_pid(self, name):
        so = self.out("info", "-n", name, "-p", "-H").strip()
        m = re.search(r"(\d+)\s*$", so)
        if not m:
            raise CmdError(f"lxc-info -p -H {name}: no pid in {so!r}")
        return int(m.group(1))

    def monitor_pid(self, name):
        """The monitor is init's parent ([lxc monitor] / lxcrs-monitor)."""
        pid = self.init_pid(name)
        ppid = proc_ppid(pid)
        cmd = proc_cmdline(ppid)
        if "monitor" not in cmd:
            raise CmdError(f"{self.label}: parent {ppid} of init {pid} is not a monitor: {cmd!r}")
        return ppid

    def remove(self, name):
        """Best effort: stop -k, destroy -f, then remove the directory."""
        self.run("stop", "-n", name, "-k", check=False, timeout=60)
        self.run("destroy", "-n", name, "-f", check=False, timeout=120)
        d = self.lxcpath / name
        if d.exists():
            rmtree(d)


def rmtree(path):
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


# ----------------------------------------------------------------------------- /proc

def proc_status(pid, key):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def proc_ppid(pid):
    v = proc_status(pid, "PPid")
    if v is None:
        raise CmdError(f"process {pid} is gone")
    return int(v)


def proc_cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def pss_kib(pid, field="Pss"):
    """PSS (or another smaps_rollup field, e.g. Rss) of a process, in KiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def pidns_members(init_pid):
    """Every host pid in the pid namespace of init_pid (the container's processes)."""
    try:
        ns = os.readlink(f"/proc/{init_pid}/ns/pid")
    except OSError:
        return []
    out = []
    for p in all_pids():
        try:
            if os.readlink(f"/proc/{p}/ns/pid") == ns:
                out.append(p)
        except OSError:
            pass
    return out


def container_pss_kib(init_pid):
    return sum(pss_kib(p) for p in pidns_members(init_pid))


def cgroup_mounts():
    """[(fstype, mountpoint, options)] of cgroup/cgroup2 mounts."""
    res = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        f = pre.split()
        fstype, _, superopts = post.split()[0], None, post.split()[-1]
        if fstype in ("cgroup", "cgroup2"):
            res.append((fstype, f[4], superopts))
    return res


def container_cgroup_bytes(init_pid):
    """Memory charged to the container's cgroup (v1 memory.usage_in_bytes, v2
    memory.current; both include page cache), or None."""
    try:
        lines = Path(f"/proc/{init_pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    v1 = v2 = None
    for line in lines:
        hid, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            v1 = path
        elif hid == "0":
            v2 = path
    mounts = cgroup_mounts()
    cands = []
    if v1 is not None:
        for fstype, mp, opts in mounts:
            if fstype == "cgroup" and "memory" in opts.split(","):
                cands.append((Path(mp), v1, "memory.usage_in_bytes"))
    if v2 is not None:
        for fstype, mp, _ in mounts:
            if fstype == "cgroup2":
                cands.append((Path(mp), v2, "memory.current"))
    for mp, path, fname in cands:
        path = re.sub(r"/init\.scope$", "", path)
        f = mp / path.lstrip("/") / fname
        try:
            return int(f.read_text().strip())
        except (OSError, ValueError):
            continue
    return None


def cgroup_layout():
    mounts = cgroup_mounts()
    v1 = sorted({o for fs, _, opts in mounts if fs == "cgroup"
                 for o in opts.split(",") if o not in ("rw", "ro", "relatime", "nosuid",
                                                       "nodev", "noexec", "clone_children")})
    v2 = [mp for fs, mp, _ in mounts if fs == "cgroup2"]
    ctrls = ""
    for mp in v2:
        try:
            ctrls = Path(mp, "cgroup.controllers").read_text().strip()
        except OSError:
            pass
    if v1 and v2:
        kind = "hybrid"
    elif v1:
        kind = "legacy (v1 only)"
    else:
        kind = "unified (v2 only)"
    parts = [kind]
    if v1:
        parts.append("v1: " + ", ".join(v1))
    if v2:
        parts.append(f"v2 at {', '.join(v2)} (controllers: {ctrls or 'none'})")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- results

class Row:
    def __init__(self, key, label, kind="time", target=None, abs_target_kib=None, note=""):
        self.key, self.label, self.kind = key, label, kind  # kind: time | mem
        self.target, self.abs_target_kib, self.note = target, abs_target_kib, note
        self.samples = {"lxcrs": [], "lxc": []}
        self.errors = {"lxcrs": [], "lxc": []}


class Ctx:
    def __init__(self, args, tmp, tag, impls):
        self.args, self.tmp, self.tag = args, Path(tmp), tag
        self.impls = impls              # {"lxcrs": Impl, "lxc": Impl}
        self.rows: dict[str, Row] = {}
        self.notes: list[str] = []
        self.scenario_secs: dict[str, float] = {}
        self.load = (f"{os.getloadavg()[0]:.2f}",)

    # rows and samples
    def row(self, key, label, **kw):
        if key not in self.rows:
            self.rows[key] = Row(key, label, **kw)
        return self.rows[key]

    def record(self, key, impl, value, counted=True):
        if counted:
            self.rows[key].samples[impl.key].append(value)

    def time(self, key, impl, counted, fn, *a, **kw):
        """Runs fn (which returns seconds) and records it."""
        secs = fn(*a, **kw)
        self.record(key, impl, secs, counted)
        return secs

    def fail(self, key, impl, err):
        text = str(err).strip().replace(str(self.tmp), "$TMP")
        log(f"  FAILED {impl.label} [{key}]: {text[:400]}")
        # the same error in every run is reported once, with a count
        norm = re.sub(rf"{self.tag}[a-z]+\d*", "<name>", re.sub(r"\b\d{3,}\b", "N", text))
        errs = self.rows[key].errors[impl.key]
        for e in errs:
            if e["norm"] == norm:
                e["count"] += 1
                return
        errs.append({"norm": norm, "text": text, "count": 1})

    # iteration
    def iterations(self, runs=None):
        return range(self.args.warmup + (runs or self.args.runs))

    def counted(self, i):
        return i >= self.args.warmup

    def order(self, i):
        a, b = self.impls["lxcrs"], self.impls["lxc"]
        return [a, b] if i % 2 == 0 else [b, a]

    def name(self, s):
        return f"{self.tag}{s}"


SCENARIOS = []


def scenario(name, desc):
    def deco(fn):
        SCENARIOS.append((name, desc, fn))
        return fn
    return deco


# ----------------------------------------------------------------------------- helpers

def create_busybox(ctx, impl, name):
    return impl.timed("create", "-n", name, "-t", "busybox", *impl.create_args, timeout=120)


def wait_state(impl, name, want, timeout=30.0):
    end = time.monotonic() + timeout
    st = impl.state(name)
    while st != want and time.monotonic() < end:
        time.sleep(0.02)
        st = impl.state(name)
    if st != want:
        raise CmdError(f"{impl.label}: {name} is {st}, expected {want} (waited {timeout:.0f} s)")


def start_checked(impl, name, quiet=True):
    """`lxc-start -d`, timed; the container must be RUNNING when it returns."""
    secs = impl.timed("start", "-n", name, "-d", timeout=60, quiet=quiet)
    st = impl.state(name)
    if st != "RUNNING":
        raise CmdError(f"{impl.label}: lxc-start -d returned but {name} is {st}, not RUNNING")
    return secs


def clone_container(impl, src, dst):
    """A defined container `dst` as a copy of stopped container `src` (dir copy, config
    with the new name and paths) - much faster than running the template 100 times."""
    s, d = impl.lxcpath / src, impl.lxcpath / dst
    subprocess.run(["cp", "-a", str(s), str(d)], check=True)
    cfg = d / "config"
    text = cfg.read_text()
    text = text.replace(f"{impl.lxcpath}/{src}/", f"{impl.lxcpath}/{dst}/")
    text = text.replace(f"{impl.lxcpath}/{src}\n", f"{impl.lxcpath}/{dst}\n")
    text = re.sub(r"(?m)^lxc\.uts\.name\s*=.*$", f"lxc.uts.name = {dst}", text)
    cfg.write_text(text)


def set_net(impl, name, lines):
    """Replaces the lxc.net.* lines of a container's config with `lines`."""
    cfg = impl.lxcpath / name / "config"
    text = [l for l in cfg.read_text().splitlines() if not re.match(r"\s*lxc\.net\.", l)]
    cfg.write_text("\n".join(text + lines) + "\n")


def mem_sample(ctx, impl, names, counted, key_mon, key_ct, key_cg, per_container=True):
    """Monitor PSS, container PSS and cgroup memory of running containers `names`, read
    at rest: the pids are looked up first (an lxc-info per container, which the monitors
    answer), then nothing is asked of them for MEM_QUIET seconds before /proc is read."""
    mons = cts = cgs = rss = 0
    n = len(names)
    pids = [(impl.init_pid(nm), impl.monitor_pid(nm)) for nm in names]
    time.sleep(MEM_QUIET)
    for init, mon in pids:
        mons += pss_kib(mon)
        rss += pss_kib(mon, "Rss")
        cts += container_pss_kib(init)
        cg = container_cgroup_bytes(init)
        cgs += (cg or 0) // 1024
    div = n if per_container else 1
    ctx.record(key_mon, impl, mons / div, counted)
    if key_mon + ".rss" in ctx.rows:
        ctx.record(key_mon + ".rss", impl, rss / div, counted)
    if key_ct:
        ctx.record(key_ct, impl, cts / div, counted)
    if key_cg:
        ctx.record(key_cg, impl, cgs / div, counted)


# ----------------------------------------------------------------------------- scenarios

@scenario("kernel", "the kernel's cgroup-migration wait both implementations pay (a probe, no ratio)")
def sc_kernel(ctx):
    """Times the first write of a pid to a cgroup.procs after a quiet spell, then a second
    write right after it. Every start (init into its cgroups) and attach (the attached
    process into the container's cgroups) on a host with v1 hierarchies moves a process
    this way, LXC's and lxcrs's alike; the first move after a pause waits for an RCU grace
    period of the kernel's cgroup_threadgroup_rwsem."""
    layout = cgroup_layout()
    mounts = [mp for fstype, mp, _ in cgroup_mounts() if fstype == "cgroup"]
    if not mounts:
        mounts = [mp for fstype, mp, _ in cgroup_mounts() if fstype == "cgroup2"]
    if not mounts:
        return
    mp = mounts[0]
    home = Path(mp)
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctl, path = line.split(":", 2)
        if ctl and mp.rstrip("/").endswith("/" + ctl.replace("name=", "")):
            home = Path(mp) / path.lstrip("/")
    d = Path(mp) / f"{ctx.tag}-probe"
    d.mkdir()
    first, second = [], []
    try:
        for i in ctx.iterations():
            time.sleep(0.3)
            t0 = time.perf_counter()
            (d / "cgroup.procs").write_text(str(os.getpid()))
            t1 = time.perf_counter()
            (home / "cgroup.procs").write_text(str(os.getpid()))
            t2 = time.perf_counter()
            if ctx.counted(i):
                first.append(t1 - t0)
                second.append(t2 - t1)
    finally:
        (home / "cgroup.procs").write_text(str(os.getpid()))
        d.rmdir()
    ms = lambda xs: f"median {statistics.median(xs) * 1000:.1f} ms (min {min(xs) * 1000:.1f}, max {max(xs) * 1000:.1f})"
    ctx.kernel_probe = (
        f"Kernel probe (`kernel` scenario, {layout}): moving a process into a cgroup of `{mp}` "
        f"after 0.3 s of quiet took {ms(first)}; moving it back right after took {ms(second)}. "
        "Every start and every attach on this host moves a process into the container's cgroups, "
        "LXC's and lxcrs's alike, so each pays that first-move wait when nothing moved just before.")
    ctx.notes.append(ctx.kernel_probe)
    log("  " + ctx.kernel_probe)


@scenario("busybox", "busybox: create, start -d, attach, info, freeze+unfreeze, stop, stop -k, destroy")
def sc_busybox(ctx):
    rows = [
        ("bb.create", "busybox: lxc-create -t busybox", {}),
        ("bb.start", "busybox: lxc-start -d (returns RUNNING)", {"target": 0.5}),
        ("bb.attach", "busybox: lxc-attach -- true", {"target": 0.5}),
        ("bb.info", "busybox: lxc-info (running)", {"target": 1.0}),
        ("bb.freeze", "busybox: lxc-freeze + lxc-unfreeze", {}),
        ("bb.stop", "busybox: lxc-stop (clean)", {}),
        ("bb.stopk", "busybox: lxc-stop -k", {}),
        ("bb.destroy", "busybox: lxc-destroy", {}),
    ]
    for k, l, kw in rows:
        ctx.row(k, l, **kw)
    ctx.row("mem.mon1", "memory: monitor PSS, 1 running busybox", kind="mem", abs_target_kib=1024)
    ctx.row("mem.mon1.rss", "memory: monitor RSS, 1 running busybox (for reference)", kind="mem")
    ctx.row("mem.ct.bb", "memory: busybox container's processes, PSS", kind="mem")
    ctx.row("mem.cg.bb", "memory: busybox container's cgroup (incl. page cache)", kind="mem")
    inner = 3   # cheap commands are timed 3x per iteration (alternating)
    for i in ctx.iterations():
        c = ctx.counted(i)
        for impl in ctx.order(i):
            name = ctx.name(f"bb{i}")
            key = "bb.create"
            try:
                ctx.time(key, impl, c, create_busybox, ctx, impl, name)
                key = "bb.start"
                ctx.time(key, impl, c, start_checked, impl, name)
                key = "mem.mon1"
                mem_sample(ctx, impl, [name], c, "mem.mon1", "mem.ct.bb", "mem.cg.bb")
                key = "bb.attach"
                for _ in range(inner):
                    ctx.time(key, impl, c, impl.timed, "attach", "-n", name, "--", "true")
                key = "bb.info"
                for _ in range(inner):
                    ctx.time(key, impl, c, impl.timed, "info", "-n", name)
                key = "bb.freeze"
                t = impl.timed("freeze", "-n", name)
                st = impl.state(name)
                if st != "FROZEN":
                    raise CmdError(f"after lxc-freeze {name} is {st}, not FROZEN")
                t += impl.timed("unfreeze", "-n", name)
                st = impl.state(name)
                if st != "RUNNING":
                    raise CmdError(f"after lxc-unfreeze {name} is {st}, not RUNNING")
                ctx.record(key, impl, t, c)
                key = "bb.stop"
                ctx.time(key, impl, c, impl.timed, "stop", "-n", name, timeout=90)
                wait_state(impl, name, "STOPPED", 5)
                key = "bb.stopk"
                start_checked(impl, name)
                ctx.time(key, impl, c, impl.timed, "stop", "-n", name, "-k")
                wait_state(impl, name, "STOPPED", 5)
                key = "bb.destroy"
                ctx.time(key, impl, c, impl.timed, "destroy", "-n", name)
                if (impl.lxcpath / name).exists():
                    raise CmdError(f"lxc-destroy left {impl.lxcpath / name} behind")
            except CmdError as e:
                ctx.fail(key, impl, e)
                impl.remove(name)


DEBIAN_MIRROR = "http://deb.debian.org/debian"


class StubMirror:
    """LXC's lxc-debian asks the mirror for two Release files on every create, even with a
    warm cache (`dists/testing/main/binary-ARCH/Release`, `dists/RELEASE/Release`) and
    fails when it is unreachable. Offline, this local HTTP server answers those two (and
    nothing else), so LXC's create can still be measured - without its network round trips."""

    def __init__(self):
        import http.server
        import threading
        files = {
            "/debian/dists/testing/main/binary-amd64/Release": b"Archive: testing\nComponent: main\nArchitecture: amd64\n",
            f"/debian/dists/{DEBIAN_RELEASE}/Release": f"Suite: oldstable\nCodename: {DEBIAN_RELEASE}\n".encode(),
        }

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/debian"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def mirror_reachable(url):
    return run(["wget", "-q", "-T", "5", "-t", "1", "-O", "/dev/null", f"{url}/dists/{DEBIAN_RELEASE}/Release"],
               timeout=20, check=False)[1] == 0


@scenario("debian-create", "Debian (systemd): lxc-create from a warm cache, then destroy")
def sc_debian_create(ctx):
    ctx.row("deb.create", f"debian: lxc-create -t debian ({DEBIAN_RELEASE}, warm cache)", target=0.5,
            note="each implementation's own debian template and cache")
    ctx.row("deb.destroy", "debian: lxc-destroy", )
    for impl, cache in ((ctx.impls["lxcrs"], LXCRS_DEBIAN_CACHE), (ctx.impls["lxc"], LXC_DEBIAN_CACHE)):
        if not cache.is_dir():
            log(f"  note: {cache} is missing: the warm-up run of {impl.label} builds it (network, minutes)")
    lx = ctx.impls["lxc"]
    saved_env = dict(lx.env)
    stub = None
    mirror = os.environ.get("MIRROR", DEBIAN_MIRROR)
    if not mirror_reachable(mirror):
        stub = StubMirror()
        lx.env = dict(lx.env, MIRROR=stub.url)
        ctx.notes.append(
            f"Debian create: the mirror {mirror} was unreachable during the run. LXC's lxc-debian "
            "contacts it on every create even with a warm cache (two `wget`s of Release files) "
            "and fails offline; a local stub server answered those two requests, so LXC's times "
            "here exclude that network round trip (lxcrs's template needs no network with a "
            "warm cache).")
        log(f"  mirror unreachable: LXC's lxc-debian gets a local stub mirror ({stub.url})")
    try:
        _debian_create_runs(ctx)
    finally:
        lx.env = saved_env
        if stub:
            stub.close()


def _debian_create_runs(ctx):
    for i in ctx.iterations(ctx.args.debian_runs):
        c = ctx.counted(i)
        for impl in ctx.order(i):
            name = ctx.name(f"dc{i}")
            args = ["-n", name, "-t", "debian", *impl.create_args]
            if impl.key == "lxc":
                args += ["--", "-r", DEBIAN_RELEASE]
            key = "deb.create"
            try:
                if ctx.args.storage == "disk":
                    os.sync()
                ctx.time(key, impl, c, impl.timed, "create", *args, timeout=1800)
                if ctx.args.storage == "disk":
                    os.sync()
                key = "deb.destroy"
                ctx.time(key, impl, c, impl.timed, "destroy", "-n", name, timeout=300)
            except CmdError as e:
                ctx.fail(key, impl, e)
                impl.remove(name)


def boot_to_running(impl, name, t0, timeout=180.0):
    """Waits until `systemctl is-system-running` in the container answers `running`
    (asked through nsenter, the same neutral way for both). Returns the time since t0."""
    pid = impl.init_pid(name)
    end = t0 + timeout
    last = ""
    while time.perf_counter() < end:
        _, rc, so, se = run(["nsenter", "-t", str(pid), "-a", "-r", "-w",
                             "systemctl", "is-system-running", "--wait"],
                            timeout=max(1.0, end - time.perf_counter()), check=False)
        last = (so.strip() or se.strip())
        if last == "running":
            return time.perf_counter() - t0
        if last in ("degraded", "maintenance", "stopping"):
            _, _, failed, _ = run(["nsenter", "-t", str(pid), "-a", "-r", "-w",
                                   "systemctl", "--failed", "--no-legend", "--plain"],
                                  timeout=30, check=False)
            raise CmdError(f"{impl.label}: {name} booted to `{last}`, not `running`; "
                           f"failed units: {' / '.join(failed.strip().splitlines()) or '?'}")
        time.sleep(0.02)
    raise CmdError(f"{impl.label}: {name}: systemd not `running` after {timeout:.0f} s (last: {last!r})")


def systemd_userspace_secs(impl, name):
    """systemd's own account of its boot in the container (`Startup finished in … (userspace)`)."""
    pid = impl.init_pid(name)
    so = run(["nsenter", "-t", str(pid), "-a", "-r", "-w", "systemd-analyze"], check=False)[2]
    m = re.search(r"Startup finished in (.+?) \(userspace\)", so)
    if not m:
        raise CmdError(f"{impl.label}: no userspace time in systemd-analyze's output: {so.strip()[:200]!r}")
    secs = 0.0
    for num, unit in re.findall(r"([\d.]+)(min|ms|s)", m.group(1)):
        secs += float(num) * {"min": 60.0, "s": 1.0, "ms": 0.001}[unit]
    return secs


def stop_timing_init_exit(impl, name, timeout=120.0):
    """A clean `lxc-stop`, timed, and the time from its exec until init exits (init's pidfd):
    how long the guest's own shutdown takes under this manager."""
    time.sleep(QUIET)
    pidfd = os.pidfd_open(impl.init_pid(name))
    try:
        with tempfile.TemporaryFile() as out:
            t0 = time.perf_counter()
            p = subprocess.Popen(impl.argv("stop", "-n", name), stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=out, env=impl.env)
            if not select.select([pidfd], [], [], timeout)[0]:
                p.kill()
                p.wait()
                raise CmdError(f"{impl.label}: init did not exit within {timeout:.0f} s of lxc-stop")
            t_exit = time.perf_counter() - t0
            rc = wait_exact(p, timeout)
            total = time.perf_counter() - t0
            if rc != 0:
                out.seek(0)
                raise CmdError(f"{impl.label}: lxc-stop exit {rc}: {out.read().decode(errors='replace')[-400:]}")
    finally:
        os.close(pidfd)
    return total, t_exit


def lxc_copy_of(rs, lx, name):
    """LXC's container `name`: a `cp -a` of lxcrs's container `name`'s rootfs (made by our
    debian template, never booted) with an equivalent LXC 5 config."""
    d = lx.lxcpath / name
    d.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(rs.lxcpath / name / "rootfs"), str(d / "rootfs")], check=True)
    (d / "config").write_text(
        "# LXC 5 config equivalent to lxcrs's debian template output (same rootfs)\n"
        "lxc.include = /usr/share/lxc/config/debian.common.conf\n"
        "lxc.apparmor.profile = unconfined\n"
        "lxc.net.0.type = empty\n"
        f"lxc.rootfs.path = dir:{d}/rootfs\n"
        f"lxc.uts.name = {name}\n"
        "lxc.arch = amd64\n"
        "lxc.tty.max = 4\n"
        "lxc.pty.max = 1024\n"
        # LXC 5.0.2 does not hand init `container_ttys` (LXC 6 and lxcrs do, contract
        # §2.3): without it systemd starts no container-getty@ units. Set it here so that
        # both guests run the same units (the console is pts/0, tty1-4 are pts/1-4).
        "lxc.environment = container_ttys=pts/1 pts/2 pts/3 pts/4\n")


@scenario("debian", "Debian (systemd, same rootfs): start -d, boot to running, attach, clean stop")
def sc_debian(ctx):
    ctx.row("deb.start", "debian: lxc-start -d (returns RUNNING)", target=0.5)
    ctx.row("deb.boot", "debian: start until `systemctl is-system-running` = running", target=0.85)
    ctx.row("deb.attach", "debian: lxc-attach -- systemctl is-system-running", target=0.5,
            note="same target as attach -- true")
    ctx.row("deb.stop", "debian: lxc-stop (clean)", target=0.8)
    # What systemd itself takes, which no manager can shorten: the floors of the rows above.
    ctx.row("deb.sd.boot", "debian: systemd's own boot (`systemd-analyze`: userspace)",
            note="inside the container, the same units for both")
    ctx.row("deb.sd.halt", "debian: halt signal sent → init exits (systemd's shutdown)",
            note="from lxc-stop's exec to init's exit, on init's pidfd")
    ctx.row("deb.sd.ctl", "debian: `systemctl is-system-running` through nsenter (no manager)",
            note="the command attach runs, without attach")
    ctx.row("mem.mon.deb", "memory: monitor PSS, 1 running Debian", kind="mem", abs_target_kib=1024)
    ctx.row("mem.ct.deb", "memory: Debian container's processes, PSS", kind="mem")
    ctx.row("mem.cg.deb", "memory: Debian container's cgroup (incl. page cache)", kind="mem")
    rs, lx = ctx.impls["lxcrs"], ctx.impls["lxc"]
    name = ctx.name("deb")
    try:
        # Same rootfs: lxcrs's template makes it, LXC gets a copy taken before the first boot
        # and an equivalent LXC 5 config.
        log("  setup: lxcrs lxc-create -t debian; copy of its rootfs for LXC")
        try:
            rs.run("create", "-n", name, "-t", "debian", timeout=1800)
        except CmdError as e:
            ctx.fail("deb.start", rs, e)
            return
        lxc_copy_of(rs, lx, name)
        for i in ctx.iterations(ctx.args.debian_runs):
            c = ctx.counted(i)
            for impl in ctx.order(i):
                key = "deb.start"
                try:
                    time.sleep(QUIET)
                    t0 = time.perf_counter()
                    secs = impl.timed("start", "-n", name, "-d", timeout=120, quiet=False)
                    ctx.record(key, impl, secs, c)
                    key = "deb.boot"
                    ctx.record(key, impl, boot_to_running(impl, name, t0), c)
                    st = impl.state(name)
                    if st != "RUNNING":
                        raise CmdError(f"{name} is {st} after boot")
                    key = "deb.sd.boot"
                    ctx.record(key, impl, systemd_userspace_secs(impl, name), c)
                    key = "deb.sd.ctl"
                    time.sleep(QUIET)
                    pid = impl.init_pid(name)
                    secs = run(["nsenter", "-t", str(pid), "-a", "-r", "-w",
                                "systemctl", "is-system-running"], check=False)[0]
                    ctx.record(key, impl, secs, c)
                    key = "deb.attach"
                    time.sleep(QUIET)
                    secs, _, so, _ = impl.run("attach", "-n", name, "--", "systemctl", "is-system-running")
                    if so.strip() != "running":
                        raise CmdError(f"lxc-attach -- systemctl is-system-running printed {so.strip()!r}")
                    ctx.record(key, impl, secs, c)
                    key = "mem.mon.deb"
                    mem_sample(ctx, impl, [name], c, "mem.mon.deb", "mem.ct.deb", "mem.cg.deb")
                    key = "deb.stop"
                    total, init_exit = stop_timing_init_exit(impl, name)
                    ctx.record(key, impl, total, c)
                    ctx.record("deb.sd.halt", impl, init_exit, c)
                    wait_state(impl, name, "STOPPED", 10)
                except CmdError as e:
                    ctx.fail(key, impl, e)
                    impl.run("stop", "-n", name, "-k", check=False, timeout=60)
    finally:
        for impl in (rs, lx):
            impl.remove(name)


def du_mb(path):
    so = run(["du", "-sm", str(path)], check=False)[2]
    return so.split()[0] if so else "?"


@scenario("storage", "lxc-copy full copy and snapshot clones (overlay, btrfs); Debian create on btrfs")
def sc_storage(ctx):
    rs, lx = ctx.impls["lxcrs"], ctx.impls["lxc"]
    name = ctx.name("sto")
    img = ctx.tmp / "btrfs.img"
    mnt = ctx.tmp / "btrfs"
    try:
        log("  setup: a Debian container (same rootfs for both), a btrfs filesystem on a loop image")
        try:
            rs.run("create", "-n", name, "-t", "debian", timeout=1800)
        except CmdError as e:
            ctx.row("sto.copy", "storage: lxc-copy (full copy dir→dir)")
            ctx.fail("sto.copy", rs, e)
            return
        lxc_copy_of(rs, lx, name)
        size = du_mb(rs.lxcpath / name / "rootfs")
        ctx.row("sto.copy", f"storage: lxc-copy, full copy dir→dir of the Debian rootfs ({size} MB)")
        ctx.row("sto.ovl", "storage: lxc-copy -s -B overlay (snapshot clone of the Debian container)")
        ctx.row("sto.btrfs", "storage: lxc-copy -s on btrfs (snapshot clone of the Debian container)")
        ctx.row("sto.deb.btrfs", "storage: Debian lxc-create -B btrfs, warm cache on the same btrfs",
                note="lxcrs: a btrfs snapshot of its cache subvolume; LXC's lxc-debian: rsync")
        ctx.row("sto.deb.btrfs.host", "storage: Debian lxc-create -B btrfs, warm cache in /var/cache",
                note="another filesystem: a copy for both")
        ctx.row("sto.deb.ovl", "storage: Debian lxc-create -B overlay, warm cache",
                note="lxcrs: the cache is the bottom layer; LXC's lxc-debian: rsync into the lower dir")
        with open(img, "wb") as f:
            f.truncate(6 << 30)
        run(["mkfs.btrfs", "-q", str(img)])
        mnt.mkdir()
        run(["mount", "-o", "loop", str(img), str(mnt)])
        # the same implementations with their lxcpaths on btrfs
        b = {k: Impl(i.key, i.label, i.bindir, mnt / k, i.env, i.create_args) for k, i in ctx.impls.items()}
        for i in b.values():
            i.lxcpath.mkdir()
        # The btrfs origins: an empty subvolume from `lxc-create -B btrfs -t /bin/true`, the
        # same rootfs copied in. (Not `lxc-copy -p DIR -B btrfs`: LXC 5.0.2 cannot snapshot a
        # container made that way - it snapshots the rootfs mount point
        # /usr/lib/x86_64-linux-gnu/lxc/rootfs instead, EINVAL.)
        origin = ctx.name("stob")
        for k in ("lxcrs", "lxc"):
            bi = b[k]
            bi.run("create", "-n", origin, "-B", "btrfs", "-t", "/bin/true", *bi.create_args, timeout=120)
            run(["cp", "-a", f"{ctx.impls[k].lxcpath / name / 'rootfs'}/.", str(bi.lxcpath / origin / "rootfs")])
            with open(bi.lxcpath / origin / "config", "a") as f:
                f.write(f"lxc.include = {'/usr/share/lxc/config' if k == 'lxc' else rs.env['LXCRS_SHARE_DIR'] + '/config'}"
                        f"/debian.common.conf\nlxc.uts.name = {origin}\nlxc.arch = amd64\n")
        ctx.notes.append(
            "storage: LXC 5.0.2's `lxc-copy -s` fails (EINVAL) on a btrfs container that `lxc-copy -p DIR "
            "-B btrfs` made: it snapshots the rootfs mount point /usr/lib/x86_64-linux-gnu/lxc/rootfs "
            "instead of the container's subvolume. The btrfs origins here are made with `lxc-create -B "
            "btrfs -t /bin/true` plus a copy of the rootfs, which both snapshot.")
        # Template caches on the btrfs: lxcrs's as a subvolume (as its template builds it on
        # btrfs), LXC's as its template leaves it (a directory).
        cache = mnt / "cache"
        (cache / "lxcrs-debian").mkdir(parents=True)
        (cache / "debian").mkdir(parents=True)
        rs_cache = cache / "lxcrs-debian" / LXCRS_DEBIAN_CACHE.name
        run(["btrfs", "-q", "subvolume", "create", str(rs_cache)])
        run(["cp", "-a", f"{LXCRS_DEBIAN_CACHE}/.", str(rs_cache)])
        have_lxc_cache = LXC_DEBIAN_CACHE.is_dir()
        if have_lxc_cache:
            run(["cp", "-a", str(LXC_DEBIAN_CACHE), str(cache / "debian" / LXC_DEBIAN_CACHE.name)])
        else:
            log(f"  note: {LXC_DEBIAN_CACHE} is missing: LXC's first create on btrfs builds it (minutes)")
        lx_env = dict(lx.env)
        mirror = os.environ.get("MIRROR", DEBIAN_MIRROR)
        stub = None
        if not mirror_reachable(mirror):
            stub = StubMirror()
            lx_env["MIRROR"] = stub.url
        try:
            for i in ctx.iterations(ctx.args.storage_runs):
                c = ctx.counted(i)
                for impl in ctx.order(i):
                    bi = b[impl.key]
                    dst = ctx.name(f"stc{i}")
                    steps = (
                        ("sto.copy", impl, ["copy", "-n", name, "-N", dst]),
                        ("sto.ovl", impl, ["copy", "-n", name, "-N", dst, "-s", "-B", "overlay"]),
                        ("sto.btrfs", bi, ["copy", "-n", origin, "-N", dst, "-s"]),
                    )
                    for key, who, argv in steps:
                        try:
                            ctx.time(key, impl, c, who.timed, *argv, timeout=600)
                        except CmdError as e:
                            ctx.fail(key, impl, e)
                        who.remove(dst)
                    for key, env_cache, bdev in (("sto.deb.btrfs", cache, "btrfs"),
                                                 ("sto.deb.btrfs.host", None, "btrfs"),
                                                 ("sto.deb.ovl", None, "overlay")):
                        bi = b[impl.key] if bdev == "btrfs" else impl
                        args = ["create", "-n", dst, "-t", "debian", "-B", bdev, *impl.create_args]
                        if impl.key == "lxc":
                            args += ["--", "-r", DEBIAN_RELEASE]
                        env = dict(lx_env if impl.key == "lxc" else bi.env)
                        if env_cache:
                            env["LXC_CACHE_PATH"] = str(env_cache)
                        try:
                            secs = run(bi.argv(*args), env=env, timeout=1800,
                                       what=f"{bi.label} lxc-create -B {bdev} -t debian")[0]
                            ctx.record(key, impl, secs, c)
                        except CmdError as e:
                            ctx.fail(key, impl, e)
                        bi.remove(dst)
        finally:
            if stub:
                stub.close()
            if not have_lxc_cache:
                ctx.notes.append("storage: LXC's Debian cache was built by the warm-up run of the btrfs create.")
            for i in b.values():
                for n in sorted(os.listdir(i.lxcpath)) if i.lxcpath.is_dir() else []:
                    i.remove(n)
            run(["btrfs", "-q", "subvolume", "delete", str(rs_cache)], check=False)
    finally:
        for impl in (rs, lx):
            impl.remove(name)
        if mnt.is_dir():
            run(["umount", str(mnt)], check=False)
            try:
                mnt.rmdir()
            except OSError:
                pass
        img.unlink(missing_ok=True)


@scenario("ls", "lxc-ls -f and lxc-ls with 100 defined containers, 10 running; monitor PSS")
def sc_ls(ctx):
    ctx.row("ls.f", "lxc-ls -f (100 defined, 10 running)", target=1.0)
    ctx.row("ls.plain", "lxc-ls (100 defined, 10 running)")
    ctx.row("mem.mon10", "memory: monitor PSS per container, 10 running busybox", kind="mem",
            abs_target_kib=1024)
    names = [ctx.name(f"ls{n:03d}") for n in range(100)]
    try:
        for impl in ctx.impls.values():
            log(f"  setup: 100 containers, 10 running ({impl.label})")
            try:
                create_busybox(ctx, impl, names[0])
                for nm in names[1:]:
                    clone_container(impl, names[0], nm)
                for nm in names[:10]:
                    start_checked(impl, nm)
            except (CmdError, subprocess.CalledProcessError) as e:
                ctx.fail("ls.f", impl, f"setup: {e}")
        for i in ctx.iterations(ctx.args.runs * 2):
            c = ctx.counted(i)
            for impl in ctx.order(i):
                key = "ls.f"
                try:
                    secs, _, so, _ = impl.run("ls", "-f")
                    got = sum(1 for nm in names if re.search(rf"(?m)^{nm}\s", so))
                    run_n = sum(1 for nm in names if re.search(rf"(?m)^{nm}\s+RUNNING", so))
                    if got != 100 or run_n != 10:
                        raise CmdError(f"lxc-ls -f listed {got} of 100 containers, {run_n} of 10 RUNNING")
                    ctx.record(key, impl, secs, c)
                    key = "ls.plain"
                    secs, _, so, _ = impl.run("ls")
                    got = len(set(so.split()) & set(names))
                    if got != 100:
                        raise CmdError(f"lxc-ls listed {got} of 100 containers")
                    ctx.record(key, impl, secs, c)
                    key = "mem.mon10"
                    mem_sample(ctx, impl, names[:10], c, "mem.mon10", None, None)
                except CmdError as e:
                    ctx.fail(key, impl, e)
    finally:
        for impl in ctx.impls.values():
            for nm in names[:10]:
                impl.run("stop", "-n", nm, "-k", check=False, timeout=60)
            for nm in names:
                if (impl.lxcpath / nm).exists():
                    impl.run("destroy", "-n", nm, "-f", check=False, timeout=60)
                    if (impl.lxcpath / nm).exists():
                        rmtree(impl.lxcpath / nm)


@scenario("density", "20 busybox containers started concurrently until all RUNNING; total memory")
def sc_density(ctx):
    n = 20
    ctx.row("dens.start", f"density: {n} concurrent lxc-start -d until all RUNNING", target=0.5)
    ctx.row("dens.mon", f"memory: {n} monitors, total PSS", kind="mem")
    ctx.row("dens.ct", f"memory: {n} busybox containers' processes, total PSS", kind="mem")
    ctx.row("dens.total", f"memory: {n} running, monitors + containers, total PSS", kind="mem")
    names = [ctx.name(f"dn{k:02d}") for k in range(n)]
    try:
        for impl in ctx.impls.values():
            try:
                create_busybox(ctx, impl, names[0])
                for nm in names[1:]:
                    clone_container(impl, names[0], nm)
            except (CmdError, subprocess.CalledProcessError) as e:
                ctx.fail("dens.start", impl, f"setup: {e}")
        for i in ctx.iterations():
            c = ctx.counted(i)
            for impl in ctx.order(i):
                key = "dens.start"
                try:
                    files = [tempfile.TemporaryFile() for _ in names]
                    time.sleep(QUIET)
                    t0 = time.perf_counter()
                    procs = [subprocess.Popen(impl.argv("start", "-n", nm, "-d"), env=impl.env,
                                              stdin=subprocess.DEVNULL, stdout=f, stderr=f)
                             for nm, f in zip(names, files)]
                    rcs = [wait_exact(p, 180) for p in procs]
                    t1 = time.perf_counter()
                    errs = []
                    for nm, rc, f in zip(names, rcs, files):
                        f.seek(0)
                        if rc != 0:
                            errs.append(f"{nm}: exit {rc}: {f.read().decode(errors='replace').strip()[:300]}")
                        f.close()
                    if errs:
                        raise CmdError(f"{len(errs)} of {n} concurrent lxc-start -d failed: " + " | ".join(errs[:3]))
                    late = [nm for nm in names if impl.state(nm) != "RUNNING"]
                    if late:
                        raise CmdError(f"lxc-start -d returned but {len(late)} containers are not RUNNING: {late[:5]}")
                    ctx.record(key, impl, t1 - t0, c)
                    key = "dens.mon"
                    mons = cts = 0
                    for nm in names:
                        mons += pss_kib(impl.monitor_pid(nm))
                        cts += container_pss_kib(impl.init_pid(nm))
                    ctx.record("dens.mon", impl, mons, c)
                    ctx.record("dens.ct", impl, cts, c)
                    ctx.record("dens.total", impl, mons + cts, c)
                except (CmdError, subprocess.TimeoutExpired) as e:
                    ctx.fail(key, impl, e)
                finally:
                    stoppers = [subprocess.Popen(impl.argv("stop", "-n", nm, "-k"), env=impl.env,
                                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL) for nm in names]
                    for p in stoppers:
                        try:
                            p.wait(timeout=60)
                        except subprocess.TimeoutExpired:
                            p.kill()
                    try:
                        for nm in names:
                            wait_state(impl, nm, "STOPPED", 10)
                    except CmdError as e:
                        ctx.fail("dens.start", impl, f"stop -k: {e}")
    finally:
        for impl in ctx.impls.values():
            for nm in names:
                if (impl.lxcpath / nm).exists():
                    impl.remove(nm)


def bridge_ports():
    try:
        return os.listdir(f"/sys/class/net/{BRIDGE}/brif")
    except OSError:
        return []


@scenario("veth", "lxc-start -d with a veth on a bridge minus the same without network")
def sc_veth(ctx):
    ctx.row("net.empty", "network: lxc-start -d, no network (lxc.net.0.type = empty)")
    ctx.row("net.veth", f"network: lxc-start -d, veth on bridge {BRIDGE}")
    ctx.row("net.overhead", "network: veth start overhead (paired difference)", target=1.0)
    ne, nv = ctx.name("ne"), ctx.name("nv")
    created_bridge = False
    try:
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            run(["ip", "link", "del", BRIDGE], check=False)
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        created_bridge = True
        run(["ip", "addr", "add", BRIDGE_ADDR, "dev", BRIDGE])
        run(["ip", "link", "set", BRIDGE, "up"])
        for impl in ctx.impls.values():
            try:
                create_busybox(ctx, impl, ne)
                clone_container(impl, ne, nv)
                set_net(impl, ne, ["lxc.net.0.type = empty"])
                set_net(impl, nv, ["lxc.net.0.type = veth", f"lxc.net.0.link = {BRIDGE}",
                                   "lxc.net.0.flags = up", "lxc.net.0.name = eth0"])
            except (CmdError, subprocess.CalledProcessError) as e:
                ctx.fail("net.veth", impl, f"setup: {e}")
        for i in ctx.iterations(ctx.args.runs * 4):
            c = ctx.counted(i)
            for impl in ctx.order(i):
                key = "net.empty"
                try:
                    a = start_checked(impl, ne)
                    impl.run("stop", "-n", ne, "-k")
                    key = "net.veth"
                    b = start_checked(impl, nv)
                    ports = bridge_ports()
                    if len(ports) != 1:
                        raise CmdError(f"veth container running but bridge {BRIDGE} has ports {ports}")
                    pid = impl.init_pid(nv)
                    _, _, so, _ = run(["nsenter", "-t", str(pid), "-n", "ip", "-o", "link", "show", "eth0"],
                                      check=False)
                    if "eth0" not in so or not re.search(r"[<,]UP[,>]", so):
                        raise CmdError(f"no eth0 UP in the container: {so.strip()!r}")
                    impl.run("stop", "-n", nv, "-k")
                    if bridge_ports():
                        raise CmdError(f"after lxc-stop -k the bridge still has ports {bridge_ports()}")
                    ctx.record("net.empty", impl, a, c)
                    ctx.record("net.veth", impl, b, c)
                    ctx.record("net.overhead", impl, b - a, c)
                except CmdError as e:
                    ctx.fail(key, impl, e)
                    impl.run("stop", "-n", ne, "-k", check=False)
                    impl.run("stop", "-n", nv, "-k", check=False)
    finally:
        for impl in ctx.impls.values():
            for nm in (ne, nv):
                if (impl.lxcpath / nm).exists():
                    impl.remove(nm)
        if created_bridge:
            run(["ip", "link", "del", BRIDGE], check=False)


# ----------------------------------------------------------------------------- scale

SCALE_PORTS = 1000          # veths per test bridge (the kernel allows 1024 ports a bridge)
SCALE_BRIDGE = {"lxcrs": "lxcrsscale", "lxc": "lxcscale"}   # + index: lxcrsscale0, …


class RaisedLimits:
    """The host limits `n` running containers need, raised for the scenario and put back
    after: ptys (LXC's busybox config asks for 5 ttys + a console each, lxcrs's 4 + 1; the
    non-initial devpts instances share kernel.pty.max minus kernel.pty.reserve), inotify
    instances and watches, open files (system and this process, whose limit the tools and
    monitors inherit) and pids. Only raised, never lowered."""

    def __init__(self, n):
        self.want = {
            "kernel.pty.max": 8 * n + 4096,
            "fs.inotify.max_user_instances": 4 * n + 1024,
            "fs.inotify.max_user_watches": 64 * n + 200_000,
            "fs.file-max": 64 * n + (1 << 20),
            "kernel.pid_max": 16 * n + 65536,
        }
        self.nofile = 16 * n + 4096
        self.saved: dict[str, str] = {}
        self.saved_nofile = None

    @staticmethod
    def path(key):
        return Path("/proc/sys") / key.replace(".", "/")

    def apply(self):
        import resource
        for key, v in self.want.items():
            cur = self.path(key).read_text().strip()
            if int(cur) < v:
                self.saved[key] = cur
                self.path(key).write_text(str(v))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = self.nofile
        if hard != resource.RLIM_INFINITY and hard < want:
            try:   # needs CAP_SYS_RESOURCE in the initial user namespace
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, want))
                hard = want
            except (ValueError, OSError):
                log(f"  note: RLIMIT_NOFILE's hard limit {hard} cannot be raised to {want} here")
                want = hard
        if soft < want:
            self.saved_nofile = (soft, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        changed = [f"{k} {self.saved[k]} → {self.want[k]}" for k in self.saved]
        if self.saved_nofile:
            changed.append(f"RLIMIT_NOFILE {self.saved_nofile[0]} → {want}")
        return changed

    def restore(self):
        import resource
        for key, v in self.saved.items():
            try:
                self.path(key).write_text(v)
            except OSError as e:
                log(f"  could not restore {key} = {v}: {e}")
        self.saved.clear()
        if self.saved_nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, self.saved_nofile)
            self.saved_nofile = None


def scale_bridges(impl, n):
    return [f"{SCALE_BRIDGE[impl.key]}{b}" for b in range((n + SCALE_PORTS - 1) // SCALE_PORTS)]


def ports_of(bridge):
    try:
        return os.listdir(f"/sys/class/net/{bridge}/brif")
    except OSError:
        return []


def pidns_groups():
    """{pid namespace: [host pids]} over every process, in one pass of /proc."""
    groups: dict[str, list[int]] = {}
    for p in all_pids():
        try:
            groups.setdefault(os.readlink(f"/proc/{p}/ns/pid"), []).append(p)
        except OSError:
            pass
    return groups


def names_lxcpath(impl):
    """A test: does a command line name `impl`'s lxcpath (not another path it prefixes:
    LXC's `…/lxc` is a prefix of lxcrs's `…/lxcrs`)?"""
    pat = re.compile(re.escape(str(impl.lxcpath)) + r"(/|\s|$)")
    return lambda cmd: bool(pat.search(cmd))


def scale_memory(ctx, impl, names):
    """Total PSS of the monitors and of every process of the running containers `names`
    (and, for reference, the payload cgroups' memory), read MEM_QUIET s after the lxc-info
    calls that find the pids. Returns (monitors, containers, cgroups) in KiB."""
    pids = []
    for nm in names:
        init = impl.init_pid(nm)
        mon = proc_ppid(init)
        if "monitor" not in proc_cmdline(mon):
            raise CmdError(f"{impl.label}: parent {mon} of {nm}'s init {init} is not a monitor: "
                           f"{proc_cmdline(mon)!r}")
        pids.append((init, mon))
    time.sleep(MEM_QUIET)
    groups = pidns_groups()
    mons = cts = cgs = 0
    counted = set()
    per_mon = []
    for init, mon in pids:
        per_mon.append(pss_kib(mon))
        mons += per_mon[-1]
        counted.add(mon)
        try:
            members = groups.get(os.readlink(f"/proc/{init}/ns/pid"), [])
        except OSError:
            members = []
        cts += sum(pss_kib(p) for p in members)
        counted.update(members)
        cgs += (container_cgroup_bytes(init) or 0) // 1024
    tenth = max(1, len(per_mon) // 10)
    log(f"  {impl.label}: monitor PSS (KiB) min {min(per_mon)}, median {statistics.median(per_mon):.0f}, "
        f"max {max(per_mon)}; first {tenth} started: median {statistics.median(per_mon[:tenth]):.0f}, "
        f"last {tenth}: {statistics.median(per_mon[-tenth:]):.0f}")
    # Any other process of this implementation (a helper that stays running) counts as a
    # monitor: it is part of what the manager costs.
    names_lp = names_lxcpath(impl)
    extra = [p for p in all_pids() if p not in counted and p != os.getpid()
             and names_lp(proc_cmdline(p)) and "lxc-" not in proc_cmdline(p).split(" ")[0]]
    if extra:
        log(f"  {impl.label}: {len(extra)} other processes name the lxcpath, counted with the "
            f"monitors: {[proc_cmdline(p)[:60] for p in extra[:3]]}")
        mons += sum(pss_kib(p) for p in extra)
    return mons, cts, cgs


def scale_leaks(ctx, impl, names, bridges):
    """What of `impl`'s stopped and destroyed containers `names` is still on the host."""
    found = []
    lp = str(impl.lxcpath)
    names_lp = names_lxcpath(impl)
    prefix = names[0][:-4]
    if impl.lxcpath.is_dir():
        left = [n for n in os.listdir(impl.lxcpath) if n.startswith(prefix)]
        if left:
            found.append(f"{len(left)} container dirs ({left[:3]})")
    procs = []
    for p in all_pids():
        if p == os.getpid():
            continue
        try:
            cg = Path(f"/proc/{p}/cgroup").read_text()
        except OSError:
            cg = ""
        if names_lp(proc_cmdline(p)) or prefix in cg:
            procs.append(p)
    if procs:
        found.append(f"{len(procs)} processes ({[proc_cmdline(p)[:60] for p in procs[:3]]})")
    mounts = [l.split()[4] for l in Path("/proc/self/mountinfo").read_text().splitlines()
              if l.split()[4].startswith(lp + "/")]
    if mounts:
        found.append(f"{len(mounts)} mounts ({mounts[:3]})")
    cgs = []
    for _, mp, _ in cgroup_mounts():
        for root, dirs, _ in os.walk(mp):
            if root[len(mp):].count("/") >= 3:
                dirs[:] = []
            cgs.extend(os.path.join(root, d) for d in dirs if prefix in d)
    if cgs:
        found.append(f"{len(cgs)} cgroups ({cgs[:3]})")
    ports = [p for b in bridges for p in ports_of(b)]
    if ports:
        found.append(f"{len(ports)} veths still on the bridges ({ports[:3]})")
    for d in (Path("/run/lxcrs/rootfs"), Path("/run/lxcrs/phys")):
        if d.is_dir():
            left = [f.name for f in d.iterdir() if prefix in f.name]
            if left:
                found.append(f"{len(left)} entries in {d} ({left[:3]})")
    return found


def wait_no_ports(bridges, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(ports_of(b) for b in bridges):
        time.sleep(0.1)
    return [p for b in bridges for p in ports_of(b)]


def scale_running(impl, names, out):
    """The names of `names` that an `lxc-ls -f` output lists as RUNNING."""
    running = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) > 1 and f[1] == "RUNNING":
            running.add(f[0])
    return running & set(names)


def scale_once(ctx, impl, names, bridges):
    """One run of one implementation: start all, ls/info/memory with all running, stop all."""
    n = len(names)
    key = "scale.start"
    started = []
    try:
        log(f"  {impl.label}: starting {n} (sequential lxc-start -d)")
        errs = []
        time.sleep(QUIET)
        t0 = time.perf_counter()
        for k, nm in enumerate(names):
            _, rc, so, se = impl.run("start", "-n", nm, "-d", timeout=120, check=False)
            if rc == 0:
                started.append(nm)
            else:
                errs.append(f"{nm}: exit {rc}: {(se or so).strip()[-300:]}")
            if (k + 1) % 100 == 0:
                log(f"    {k + 1} started ({time.perf_counter() - t0:.0f} s, {len(errs)} failed, "
                    f"load {os.getloadavg()[0]:.1f})")
        secs = time.perf_counter() - t0
        log(f"  {impl.label}: {len(started)} of {n} started in {secs:.1f} s")
        if errs:
            raise CmdError(f"{len(errs)} of {n} lxc-start -d failed; first: " + " | ".join(errs[:3]))
        ports = sum(len(ports_of(b)) for b in bridges)
        if ports != n:
            raise CmdError(f"{n} containers started but their bridges have {ports} ports")
        ctx.record(key, impl, secs)
        key = "scale.ls"
        for _ in range(3):
            time.sleep(QUIET)
            secs, _, so, _ = impl.run("ls", "-f", timeout=600)
            got = len(scale_running(impl, names, so))
            if got != n:
                raise CmdError(f"lxc-ls -f lists {got} of {n} containers RUNNING")
            ctx.record(key, impl, secs)
        log(f"  {impl.label}: lxc-ls -f {statistics.median(ctx.rows[key].samples[impl.key][-3:]):.2f} s")
        key = "scale.info"
        for _ in range(3):
            ctx.record(key, impl, impl.timed("info", "-n", names[n // 2], timeout=60))
        key = "scale.mem"
        mons, cts, cgs = scale_memory(ctx, impl, names)
        ctx.record("scale.mem", impl, mons + cts)
        ctx.record("scale.mem.mon", impl, mons)
        ctx.record("scale.mem.ct", impl, cts)
        ctx.record("scale.mem.cg", impl, cgs)
        log(f"  {impl.label}: memory monitors {mons / 1024:.1f} MiB + containers {cts / 1024:.1f} MiB "
            f"(cgroups {cgs / 1024:.1f} MiB)")
    except CmdError as e:
        ctx.fail(key, impl, e)
    finally:
        key = "scale.stop"
        log(f"  {impl.label}: stopping {len(started)} (sequential lxc-stop -k)")
        errs = []
        time.sleep(QUIET)
        t0 = time.perf_counter()
        for nm in started:
            _, rc, so, se = impl.run("stop", "-n", nm, "-k", timeout=120, check=False)
            if rc != 0:
                errs.append(f"{nm}: exit {rc}: {(se or so).strip()[-300:]}")
        secs = time.perf_counter() - t0
        log(f"  {impl.label}: stopped in {secs:.1f} s")
        try:
            if errs:
                raise CmdError(f"{len(errs)} of {len(started)} lxc-stop -k failed; first: " + " | ".join(errs[:3]))
            out = impl.out("ls", "-f", timeout=600)
            still = scale_running(impl, names, out)
            if still:
                raise CmdError(f"after lxc-stop -k, {len(still)} containers are RUNNING ({sorted(still)[:3]})")
            left = wait_no_ports(bridges)
            if left:
                raise CmdError(f"30 s after the last lxc-stop -k the bridges still have {len(left)} ports")
            if len(started) == n:
                ctx.record(key, impl, secs)
        except CmdError as e:
            ctx.fail(key, impl, e)


def no_dhcp_client(impl, name):
    """Takes udhcpc out of a busybox container's boot script (both templates start it on
    eth0). The test bridges have no DHCP server: every client broadcasts DISCOVERs for
    ever, and a bridge floods each to all its ports, so N clients cost the host O(N²)
    packet deliveries - a load that grows while the containers start and would be
    measured instead of the managers (`--scale-dhcp` keeps the clients)."""
    rcs = impl.lxcpath / name / "rootfs" / "etc" / "init.d" / "rcS"
    lines = rcs.read_text().splitlines()
    out = [re.sub(r"\S.*", ": # udhcpc: not in the scale scenario", l)
           if "udhcpc" in l and not l.lstrip().startswith("#") else l for l in lines]
    if out == lines:
        raise CmdError(f"{impl.label}: no udhcpc in {rcs} to take out (template changed?)")
    rcs.write_text("\n".join(out) + "\n")


@scenario("scale", "N busybox containers with a veth each running at once (--scale, default 1000): "
                   "start all, lxc-ls -f, lxc-info, memory, stop all, destroy all, leaks")
def sc_scale(ctx):
    n = ctx.args.scale
    rs, lx = ctx.impls["lxcrs"], ctx.impls["lxc"]
    ctx.row("scale.start", f"scale: start {n} busybox, veth each (sequential lxc-start -d)", target=0.5)
    ctx.row("scale.ls", f"scale: lxc-ls -f, {n} running", target=0.5)
    ctx.row("scale.info", f"scale: lxc-info -n X, {n} running", target=0.5)
    ctx.row("scale.stop", f"scale: stop {n} (sequential lxc-stop -k)", target=0.5)
    ctx.row("scale.destroy", f"scale: destroy {n} (sequential lxc-destroy)")
    ctx.row("scale.mem", f"scale: memory, {n} running: monitors + containers, total PSS", kind="mem",
            target=0.9)
    ctx.row("scale.mem.mon", f"scale: memory, {n} monitors, total PSS", kind="mem")
    ctx.row("scale.mem.ct", f"scale: memory, {n} containers' processes, total PSS", kind="mem")
    ctx.row("scale.mem.cg", f"scale: memory, {n} payload cgroups (incl. page cache; reference)", kind="mem")
    names = [ctx.name(f"sc{k:04d}") for k in range(n)]
    bridges = {k: scale_bridges(i, n) for k, i in ctx.impls.items()}
    limits = RaisedLimits(n)
    ctx.scale_bridges = [b for bs in bridges.values() for b in bs]
    made = []
    load0 = os.getloadavg()
    try:
        changed = limits.apply()
        if changed:
            log(f"  raised for the run: {', '.join(changed)}")
            ctx.notes.append(f"scale: host limits raised for the scenario and restored after: {', '.join(changed)}.")
        for b in ctx.scale_bridges:
            if Path(f"/sys/class/net/{b}").exists():
                raise CmdError(f"bridge {b} already exists (another run?); not touching it")
            run(["ip", "link", "add", b, "type", "bridge"])
            made.append(b)
            run(["ip", "link", "set", b, "up"])
        for impl in (rs, lx):
            log(f"  setup: {n} busybox containers ({impl.label}): one from the template, "
                f"{n - 1} copies, veth on {', '.join(bridges[impl.key])}")
            create_busybox(ctx, impl, names[0])
            if not ctx.args.scale_dhcp:
                no_dhcp_client(impl, names[0])
            for k, nm in enumerate(names):
                if k:
                    clone_container(impl, names[0], nm)
                br = bridges[impl.key][k // SCALE_PORTS]
                set_net(impl, nm, ["lxc.net.0.type = veth", f"lxc.net.0.link = {br}",
                                   "lxc.net.0.flags = up", "lxc.net.0.name = eth0"])
        for i in range(ctx.args.scale_runs):
            for impl in ctx.order(i):
                log(f"  run {i + 1}/{ctx.args.scale_runs}: {impl.label}")
                scale_once(ctx, impl, names, bridges[impl.key])
        for impl in ctx.order(ctx.args.scale_runs):
            log(f"  {impl.label}: destroying {n}")
            key = "scale.destroy"
            errs = []
            time.sleep(QUIET)
            t0 = time.perf_counter()
            for nm in names:
                _, rc, so, se = impl.run("destroy", "-n", nm, timeout=120, check=False)
                if rc != 0:
                    errs.append(f"{nm}: exit {rc}: {(se or so).strip()[-300:]}")
            secs = time.perf_counter() - t0
            if errs:
                ctx.fail(key, impl, f"{len(errs)} of {n} lxc-destroy failed; first: " + " | ".join(errs[:3]))
            else:
                ctx.record(key, impl, secs)
            leaks = scale_leaks(ctx, impl, names, bridges[impl.key])
            ctx.scale_leaks = getattr(ctx, "scale_leaks", {})
            ctx.scale_leaks[impl.label] = leaks
            log(f"  {impl.label}: leak check after stop -k and destroy: {'; '.join(leaks) or 'nothing left'}")
    except (CmdError, subprocess.CalledProcessError, OSError) as e:
        ctx.fail("scale.start", rs, f"setup: {e}")
    finally:
        for impl in (rs, lx):
            left = [nm for nm in names if (impl.lxcpath / nm).exists()]
            for nm in left:
                impl.run("stop", "-n", nm, "-k", check=False, timeout=60)
                impl.run("destroy", "-n", nm, "-f", check=False, timeout=60)
                if (impl.lxcpath / nm).exists():
                    rmtree(impl.lxcpath / nm)
        for b in made:
            for p in ports_of(b):
                run(["ip", "link", "del", p], check=False)
            run(["ip", "link", "del", b], check=False)
        limits.restore()
        load1 = os.getloadavg()
        ctx.notes.append(
            f"scale: {n} containers, {ctx.args.scale_runs} run(s) each (no warm-up); load average "
            f"(1/5/15 min) {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f} at its start, "
            f"{load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} at its end.")
        for label, leaks in getattr(ctx, "scale_leaks", {}).items():
            ctx.notes.append(f"scale leak check, {label}, after stop -k and destroy of all: "
                             + ("; ".join(leaks) if leaks else "nothing left (containers, processes, mounts, "
                                "cgroups, veths, runtime files)") + ".")


# ----------------------------------------------------------------------------- setup / cleanup

def ensure_deps():
    need = {"/usr/bin/lxc-start": "lxc", "/usr/share/lxc/templates/lxc-debian": "lxc-templates",
            "/usr/sbin/debootstrap": "debootstrap", "/usr/bin/rsync": "rsync",
            "/usr/bin/nsenter": "util-linux", "/usr/sbin/ip": "iproute2"}
    if not (shutil.which("busybox")):
        need["/nonexistent/busybox"] = "busybox-static"
    missing = sorted({pkg for path, pkg in need.items() if not Path(path).exists()})
    if missing:
        log(f"installing {' '.join(missing)} (apt-get)")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True)


def setup(args):
    tag = "bn" + secrets.token_hex(2)
    tmp = Path(tempfile.mkdtemp(prefix=f"lxcrs-bench.{tag}.", dir=args.tmpdir))
    os.chmod(tmp, 0o755)
    if args.storage == "tmpfs":
        # Other work on the machine can make the disk very slow (rm -rf of a Debian rootfs
        # taking 20 s); on a tmpfs, create/destroy measure the tools and templates, not that.
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8g,mode=0755", f"lxcrs-bench-{tag}", str(tmp)],
                       check=True)
    src = Path(args.lxcrs_bin)
    bindir = tmp / "lxcrs-bin"
    bindir.mkdir()
    # A snapshot of the binaries: others may rebuild target/ during the run.
    built = (src / "lxcrs").stat().st_mtime if (src / "lxcrs").is_file() else 0
    for b in ("lxcrs", "lxcrs-monitor"):
        if not (src / b).is_file():
            sys.exit(f"bench: {src / b} is missing: run `make build` (or `make bench`)")
        shutil.copy2(src / b, bindir / b)
    for t in LXCRS_TOOLS:
        (bindir / f"lxc-{t}").symlink_to("lxcrs")
    share = tmp / "lxcrs-share"
    shutil.copytree(REPO / "templates", share, symlinks=True)
    for f in share.rglob("*"):
        if f.is_file() and not f.is_symlink():
            b = f.read_bytes()
            if b"@LXCSHARE@" in b:
                f.write_bytes(b.replace(b"@LXCSHARE@", str(share).encode()))
    for d in ("lxcrs", "lxc"):
        (tmp / d).mkdir()
    (tmp / "lxcrs-default.conf").write_text("lxc.net.0.type = empty\n")
    (tmp / "lxcrs-lxc.conf").write_text(f"lxc.lxcpath = {tmp / 'lxcrs'}\n"
                                        f"lxc.default_config = {tmp / 'lxcrs-default.conf'}\n")
    # LXC 5 reads /etc/lxc/default.conf (lxcbr0, apparmor) unless -f is given at create.
    (tmp / "lxc-default.conf").write_text("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n")
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("LXCRS_") and k != "LXC_GLOBAL_CONF"}
    rs_env = dict(base, LXC_GLOBAL_CONF=str(tmp / "lxcrs-lxc.conf"), LXCRS_SHARE_DIR=str(share))
    impls = {
        "lxcrs": Impl("lxcrs", "lxcrs", bindir, tmp / "lxcrs", rs_env, []),
        "lxc": Impl("lxc", "LXC", args.lxc_bin, tmp / "lxc", dict(base),
                    ["-f", str(tmp / "lxc-default.conf")]),
    }
    ctx = Ctx(args, tmp, tag, impls)
    ctx.built = built
    ctx.commit = run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=False)[2].strip() or "?"
    return ctx


def cleanup(ctx):
    """Idempotent, best effort: leaves nothing of this run behind. Returns what it had to
    remove by force (leaks)."""
    leaks = []
    tmp, tag = str(ctx.tmp), ctx.tag
    for impl in ctx.impls.values():
        if impl.lxcpath.is_dir():
            for nm in sorted(os.listdir(impl.lxcpath)):
                if (impl.lxcpath / nm).is_dir():
                    leaks.append(f"container {impl.label}:{nm}")
                    impl.remove(nm)
    # processes of this run: monitors name our lxcpath; containers' processes sit in
    # cgroups named after our tag.
    me = os.getpid()
    for _ in range(3):
        victims = []
        for p in all_pids():
            if p == me:
                continue
            cmd = proc_cmdline(p)
            try:
                cg = Path(f"/proc/{p}/cgroup").read_text()
            except OSError:
                cg = ""
            if (tmp in cmd and ("monitor" in cmd or "lxc-" in cmd)) or f".{tag}" in cg:
                victims.append(p)
        if not victims:
            break
        for p in victims:
            leaks.append(f"process {p} ({proc_cmdline(p)[:80]})")
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.5)
    # mounts under our temp dir, deepest first (the run's own tmpfs on it last)
    mps = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4]
        if mp.startswith(tmp + "/"):
            mps.append(mp)
    for mp in sorted(mps, key=len, reverse=True):
        leaks.append(f"mount {mp}")
        subprocess.run(["umount", "-l", mp], check=False, stderr=subprocess.DEVNULL)
    # cgroups named after our tag (any hierarchy, a few levels deep)
    for fstype, mp, _ in cgroup_mounts():
        found = []
        for root, dirs, _ in os.walk(mp):
            depth = root[len(mp):].count("/")
            if depth >= 4:
                dirs[:] = []
                continue
            for d in dirs:
                if tag in d:
                    found.append(os.path.join(root, d))
        for d in sorted(found, key=len, reverse=True):
            for sub, _, _ in sorted(os.walk(d), key=lambda x: len(x[0]), reverse=True):
                try:
                    os.rmdir(sub)
                    leaks.append(f"cgroup {sub}")
                except OSError:
                    pass
    # the test bridge and any veth left on it
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        for port in bridge_ports():
            leaks.append(f"netdev {port}")
            run(["ip", "link", "del", port], check=False)
        leaks.append(f"bridge {BRIDGE}")
        run(["ip", "link", "del", BRIDGE], check=False)
    # the scale scenario's bridges
    for b in getattr(ctx, "scale_bridges", []):
        if Path(f"/sys/class/net/{b}").exists():
            for port in ports_of(b):
                leaks.append(f"netdev {port}")
                run(["ip", "link", "del", port], check=False)
            leaks.append(f"bridge {b}")
            run(["ip", "link", "del", b], check=False)
    # LXC's lock dirs for our lxcpath; lxcrs's lock files for it
    lockdir = Path("/run/lxc/lock") / str(ctx.impls["lxc"].lxcpath).lstrip("/")
    if lockdir.exists():
        shutil.rmtree(lockdir, ignore_errors=True)
        p = lockdir.parent
        while p != Path("/run/lxc/lock") and p.exists() and not os.listdir(p):
            p.rmdir()
            p = p.parent
    enc = str(ctx.impls["lxcrs"].lxcpath).replace("/", "%2F")
    for d in (Path("/run/lxcrs/lock"), Path("/run/lxcrs")):
        if d.is_dir():
            for f in d.iterdir():
                if enc in f.name or tag in f.name:
                    leaks.append(f"lxcrs runtime file {f}")
                    if f.is_dir():
                        shutil.rmtree(f, ignore_errors=True)
                    else:
                        f.unlink(missing_ok=True)
    if not ctx.args.keep and ctx.tmp.exists():
        if ctx.args.storage == "tmpfs":
            subprocess.run(["umount", str(ctx.tmp)], check=False)
            if any(l.split()[4] == tmp for l in Path("/proc/self/mountinfo").read_text().splitlines()):
                subprocess.run(["umount", "-l", str(ctx.tmp)], check=False)
        rmtree(ctx.tmp)
    return leaks


# ----------------------------------------------------------------------------- report

def stats(xs):
    if not xs:
        return None
    return statistics.median(xs), min(xs), max(xs)


def fmt(row, v):
    if row.kind == "mem":
        return f"{v / 1024:.2f} MiB" if abs(v) >= 1024 else f"{v:.0f} KiB"
    if abs(v) >= 10:
        return f"{v:.1f} s"
    if abs(v) >= 1:
        return f"{v:.2f} s"
    return f"{v * 1000:.1f} ms"


def cell(row, xs):
    s = stats(xs)
    if s is None:
        return "—"
    med, lo, hi = s
    return f"{fmt(row, med)} ({fmt(row, lo)}–{fmt(row, hi)})"


def verdict(row):
    """(ratio text, target text, status) for a row."""
    rs, lx = stats(row.samples["lxcrs"]), stats(row.samples["lxc"])
    ratio = None
    rtext = "n/a"
    if rs and lx and lx[0] > 0:
        ratio = rs[0] / lx[0]
        rtext = f"{ratio:.2f}×"
    elif rs and lx:
        rtext = "n/a (LXC ≤ 0)"
    targets, ok = [], []
    if row.target is not None:
        targets.append(f"≤ {row.target:g}×")
        if ratio is not None:
            ok.append(ratio <= row.target)
        elif rs and lx:
            # a difference row whose LXC median is ≤ 0 (within noise): lxcrs must not be worse
            ok.append(rs[0] <= lx[0] * row.target if lx[0] > 0 else rs[0] <= lx[0])
    if row.abs_target_kib is not None:
        targets.append(f"≤ {row.abs_target_kib / 1024:g} MiB")
        if rs:
            ok.append(rs[0] <= row.abs_target_kib)
    if row.errors["lxcrs"] and not row.samples["lxcrs"]:
        status = "**FAILED**"
    elif row.samples["lxc"] and not row.samples["lxcrs"]:
        status = "not measured (an earlier step failed)"
    elif targets:
        status = ("met" if all(ok) else "**missed**") if ok and len(ok) == len(targets) else "n/a"
    else:
        status = ""
    if row.errors["lxcrs"] and row.samples["lxcrs"]:
        status = (status + " " if status else "") + "(lxcrs failures)"
    if row.errors["lxc"]:
        status = (status + " " if status else "") + "(LXC failures)"
    return rtext, " and ".join(targets), status


def runs_text(row):
    a, b = len(row.samples["lxcrs"]), len(row.samples["lxc"])
    return str(a) if a == b else f"{a}/{b}"


def table(ctx):
    lines = ["| scenario | n | lxcrs median (min–max) | LXC median (min–max) | lxcrs/LXC | target | status |",
             "|---|---|---|---|---|---|---|"]
    for row in ctx.rows.values():
        rtext, ttext, status = verdict(row)
        lines.append(f"| {row.label} | {runs_text(row)} | {cell(row, row.samples['lxcrs'])} | "
                     f"{cell(row, row.samples['lxc'])} | {rtext} | {ttext} | {status} |")
    return "\n".join(lines)


def machine_info():
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    return cpu, os.cpu_count(), mem


def versions(ctx):
    lxc = run([str(Path(ctx.args.lxc_bin) / "lxc-start"), "--version"], check=False)[2].strip()
    built = dt.datetime.fromtimestamp(ctx.built, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return lxc, ctx.commit, built


def write_report(ctx, started, elapsed, leaks, command, out_path):
    cpu, ncpu, mem = machine_info()
    lxc_ver, commit, built = versions(ctx)
    met = missed = 0
    for row in ctx.rows.values():
        _, ttext, st = verdict(row)
        if ttext:
            met += st.startswith("met")
            missed += ("missed" in st) or ("FAILED" in st)
    failures = [(row, k, e) for row in ctx.rows.values() for k in ("lxcrs", "lxc") for e in row.errors[k]]
    md = [
        "# Benchmarks: lxcrs vs LXC",
        "",
        "Generated by the benchmark harness (`bench/bench.py`); do not edit by hand, re-run it:",
        "",
        "```sh",
        command,
        "```",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (full run: {elapsed / 60:.1f} min)",
        f"- Kernel: {platform.release()} ({platform.machine()}); CPU: {cpu}, {ncpu} cores; memory {mem}",
        f"- cgroup layout: {cgroup_layout()}",
        f"- Load average (1 min) at start / end: {ctx.load[0]} / {os.getloadavg()[0]:.2f} "
        "(other work on the machine adds noise; ratios are robust to it, absolute times are not)",
        f"- lxcrs: commit {commit} (HEAD when the run started; the working tree may hold uncommitted "
        f"changes), release binaries built {built}, copied at the start of the run",
        f"- LXC: {lxc_ver} (Debian package, /usr/bin/lxc-*)",
        f"- Runs: {ctx.args.warmup} warm-up + {ctx.args.runs} counted per scenario ({2 * ctx.args.runs} for lxc-ls, "
        f"{4 * ctx.args.runs} for veth, {ctx.args.debian_runs} for Debian; the cheap busybox commands attach and "
        "info are timed 3× per run); "
        "lxcrs and LXC alternate within every run, the one going first alternating too.",
        f"- Targets: {met} met, {missed} missed or failed.",
        "",
        "Ratios are medians lxcrs/LXC (below 1 means lxcrs is faster or lighter). On a noisy "
        "machine, trust ratios over absolute times.",
        "",
        table(ctx),
        "",
        "## How each number is measured",
        "",
        f"- Storage: both lxcpaths on {'a tmpfs mounted for the run (disk I/O of other work kept out; the template caches are read from disk, page-cached)' if ctx.args.storage == 'tmpfs' else 'the disk (' + ctx.args.tmpdir + '), `sync` before each Debian create'}.",
        "- Each implementation has its own lxcpath in one temp dir. lxcrs runs from a private "
        "bin dir of `lxc-*` links to a copy of `target/dist/lxcrs` (static-pie, as `make install` "
        "installs it) with `lxcrs-monitor` (dynamic) beside it, its templates from a copy of `templates/` (`LXCRS_SHARE_DIR`), and a system config "
        "(`LXC_GLOBAL_CONF`) whose `lxc.default_config` holds `lxc.net.0.type = empty`. LXC is "
        "`/usr/bin/lxc-*` with `-P`, and `-f` a config with `lxc.net.0.type = empty` and "
        "`lxc.apparmor.profile = unconfined` at create time (its `/etc/lxc/default.conf` "
        "references lxcbr0 and AppArmor, neither present here).",
        "- Times are wall-clock around the command (`time.perf_counter`, output to files). "
        "`lxc-start -d` is checked to leave the container RUNNING when it returns.",
        f"- Every timed command starts after {QUIET * 1000:.0f} ms in which the benchmark runs "
        "nothing: the first cgroup migration after a quiet spell waits a grace period (see the "
        "kernel probe in the notes), later ones within a grace period do not, so without the "
        "pause the implementation going second would inherit the wait the first one paid "
        "(measured back to back in an earlier run: busybox `lxc-start -d` 15.1 ms lxcrs, "
        "13.5 ms LXC; the veth overhead's paired difference then drowned in that wait's "
        "randomness).",
        "- busybox: each implementation's own `busybox` template (LXC's "
        "`/usr/share/lxc/templates/lxc-busybox`, lxcrs's `templates/templates/lxc-busybox`). "
        "Freeze row = `lxc-freeze` + `lxc-unfreeze` (state checked in between, not timed).",
        f"- Debian create: each implementation's own `debian` template from its own warm cache "
        f"(lxcrs: `{LXCRS_DEBIAN_CACHE}`; LXC: `lxc-debian -r {DEBIAN_RELEASE}`, "
        f"`{LXC_DEBIAN_CACHE}`).",
        "- Debian start/boot/attach/stop: the **same rootfs** for both: lxcrs's template makes "
        "it, LXC gets a `cp -a` copy of it taken before the first boot, with an LXC 5 config "
        "including `/usr/share/lxc/config/debian.common.conf` (the same settings as lxcrs's "
        "`debian.common.conf`), no network, and `lxc.environment = container_ttys=…`: LXC 5.0.2 "
        "does not pass `container_ttys` to init (LXC 6 and lxcrs do), so without it its systemd "
        "would start 4 fewer getty units than lxcrs's, a different guest workload. Boot = from `lxc-start -d` until "
        "`systemctl is-system-running --wait` answers `running`, asked through `nsenter` "
        "(the same neutral probe for both, polled every 20 ms until systemd's bus is up).",
        "- lxc-ls: 100 busybox containers (one from the template, 99 directory copies with "
        "their config adjusted), 10 of them running.",
        "- Memory: monitor = init's parent (`[lxc monitor] PATH NAME` / `lxcrs-monitor`), "
        f"PSS from `/proc/PID/smaps_rollup`, read {MEM_QUIET:g} s after the last request to the "
        "monitors (the lxc-info that finds the pids), i.e. at rest; \"per container\" with several running is their "
        "total PSS divided by their number (shared pages of the binary are split between "
        "them). Container processes = every process in the container's pid namespace, PSS "
        "summed. cgroup = `memory.usage_in_bytes` (v1) / `memory.current` (v2) of the "
        "payload cgroup, page cache included.",
        "- Density: 20 `lxc-start -d` launched at once; time until all returned (each "
        "returns with its container RUNNING, checked after).",
        f"- Network: the same container started with `lxc.net.0.type = empty` and with a veth "
        f"on bridge `{BRIDGE}` ({BRIDGE_ADDR}, made for the run and deleted after), one after "
        "the other in each run; overhead = the per-run difference (veth − empty), its median "
        "and min–max.",
    ]
    if "scale.start" in ctx.rows:
        md.append(
            f"- Scale: {ctx.args.scale} busybox containers per implementation (one from its own "
            "template, the rest directory copies), each with a veth (no address) on test bridges "
            f"made for the run (`{SCALE_BRIDGE['lxcrs']}N` / `{SCALE_BRIDGE['lxc']}N`, at most "
            f"{SCALE_PORTS} ports each). Both sets are defined throughout; one implementation's "
            "set runs at a time: a sequential loop of `lxc-start -d` (timed as a whole; all must "
            "succeed, one bridge port per container), `lxc-ls -f` ×3 (every container listed "
            "RUNNING) and `lxc-info -n X` ×3 on the middle one, the memory (monitors = init's "
            "parents plus any other process naming the lxcpath, containers = every process in "
            f"each container's pid namespace, PSS summed, read {MEM_QUIET:g} s after the lxc-info "
            "calls that find the pids; cgroups = payload memory usage, reference only). "
            + ("" if ctx.args.scale_dhcp else
               "The templates' DHCP client (udhcpc in `/etc/init.d/rcS`) is taken out of both "
               "sets: with no DHCP server, N clients broadcasting into bridges of up to "
               f"{SCALE_PORTS} ports "
               "load the host quadratically (each broadcast is flooded to every port), which "
               "slows whichever set runs, more the longer it runs. ")
            + "Then a sequential loop of `lxc-stop -k` (a clean stop of busybox takes 2 s of the guest's "
            "own shutdown per container, the same for both) and finally of `lxc-destroy`. "
            "The host limits 1,000 containers need (pty.max, inotify, file-max, pid_max, "
            "RLIMIT_NOFILE) are raised for the scenario and restored. Leak check after the "
            "destroys: container dirs, processes, mounts under the lxcpath, cgroups named after "
            "the containers, veths on the bridges, lxcrs runtime entries.")
    md.append("")
    md.append("## Failures and misbehaviour")
    md.append("")
    if failures:
        for row, k, e in failures:
            who = ctx.impls[k].label
            times = f" ({e['count']} times)" if e["count"] > 1 else ""
            md.append(f"- **{who}**, {row.label}{times}:")
            md.append("")
            md.append("  ```")
            md.extend("  " + l for l in e["text"].splitlines()[:20])
            md.append("  ```")
    else:
        md.append("None: every command of both implementations succeeded and left the expected state.")
    md.append("")
    md.append("## Leak check")
    md.append("")
    if leaks:
        md.append("Removed by force after the run (the scenarios' own teardown should have done it):")
        md.append("")
        md.extend(f"- {l}" for l in leaks)
    else:
        md.append("Nothing was left behind (containers, processes, mounts, cgroups, netdevs, "
                  "lock files of the run).")
    if ctx.notes:
        md.append("")
        md.append("## Notes")
        md.append("")
        md.extend(f"- {n}" for n in ctx.notes)
    analysis = REPO / "bench" / "analysis.md"
    if analysis.is_file():
        md.append("")
        md.append(analysis.read_text().rstrip("\n"))
    md.append("")
    Path(out_path).write_text("\n".join(md))


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="lxcrs vs LXC benchmark (see module doc)")
    ap.add_argument("--runs", type=int, default=10, help="counted runs per scenario (default 10)")
    ap.add_argument("--debian-runs", type=int, default=10, help="counted runs of the Debian scenarios (default 10)")
    ap.add_argument("--storage-runs", type=int, default=5, help="counted runs of the storage scenario (default 5)")
    ap.add_argument("--scale", type=int, default=1000,
                    help="containers running at once in the scale scenario (default 1000)")
    ap.add_argument("--scale-runs", type=int, default=1,
                    help="runs of the scale scenario per implementation, no warm-up (default 1)")
    ap.add_argument("--scale-dhcp", action="store_true",
                    help="keep the busybox templates' DHCP client in the scale scenario's containers")
    ap.add_argument("--warmup", type=int, default=1, help="warm-up runs per scenario (default 1)")
    ap.add_argument("--only", default="", help="comma-separated scenarios to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--output", default=None,
                    help="report file (default: BENCHMARKS.md for a full run, bench/partial.md with --only)")
    ap.add_argument("--json", default=str(REPO / "bench" / "last-run.json"), help="raw samples (JSON)")
    ap.add_argument("--lxcrs-bin", default=str(REPO / "target" / "dist"))
    ap.add_argument("--lxc-bin", default="/usr/bin")
    ap.add_argument("--tmpdir", default="/tmp")
    ap.add_argument("--storage", choices=("tmpfs", "disk"), default="tmpfs",
                    help="where the lxcpaths live: a tmpfs mounted for the run (default; keeps "
                         "other disk I/O out of the numbers) or the disk under --tmpdir")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (debugging)")
    args = ap.parse_args()

    if args.list:
        for name, desc, _ in SCENARIOS:
            print(f"{name:15} {desc}")
        return 0
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (containers, cgroups, bridge)")
    wanted = [s for s in args.only.split(",") if s]
    unknown = set(wanted) - {n for n, _, _ in SCENARIOS}
    if unknown:
        sys.exit(f"bench: unknown scenario(s) {', '.join(sorted(unknown))}; see --list")
    out_path = args.output or (REPO / "BENCHMARKS.md" if not wanted else REPO / "bench" / "partial.md")
    command = os.environ.get("BENCH_CMD") or "sudo python3 bench/bench.py " + " ".join(sys.argv[1:])
    command = command.strip()

    ensure_deps()
    ctx = setup(args)
    log(f"temp dir {ctx.tmp}, container prefix {ctx.tag}")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started = dt.datetime.now(dt.timezone.utc)
    t_start = time.monotonic()
    leaks = []
    interrupted = None
    try:
        for name, desc, fn in SCENARIOS:
            if wanted and name not in wanted:
                continue
            log(f"scenario {name}: {desc}")
            t0 = time.monotonic()
            try:
                fn(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # a harness bug or an unexpected failure: record, go on
                ctx.notes.append(f"scenario `{name}` aborted: {type(e).__name__}: {e}")
                log(f"  scenario {name} aborted: {e}")
                traceback.print_exc()
            ctx.scenario_secs[name] = time.monotonic() - t0
            log(f"  {name} took {ctx.scenario_secs[name]:.0f} s")
    except KeyboardInterrupt as e:
        interrupted = str(e) or "interrupted"
        log(f"interrupted ({interrupted}): cleaning up")
    finally:
        leaks = cleanup(ctx)
    elapsed = time.monotonic() - t_start
    if leaks:
        log(f"cleanup removed {len(leaks)} leftovers: {leaks[:10]}")
    if interrupted:
        print(table(ctx))
        return 130
    ctx.notes.extend(f"scenario `{n}` took {s:.0f} s" for n, s in ctx.scenario_secs.items())
    write_report(ctx, started, elapsed, leaks, command, out_path)
    raw = {k: {"label": r.label, "kind": r.kind, "samples": r.samples, "errors": r.errors}
           for k, r in ctx.rows.items()}
    try:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    except OSError:
        pass
    print(table(ctx))
    log(f"wrote {out_path} ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
