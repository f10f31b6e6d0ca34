#!/usr/bin/env python3
"""`devhost init --template fastapi` next to cookiecutter and copier generating the same ~20-file project.

The anchor templates are made here from devhost's own fastapi template (Mustache tags become Jinja), so
all three write the same files. Median of 9 runs after a warm-up; every run writes to a fresh folder.
devhost's figure includes its git repository and first commit (and the compose file); the anchors make
no repository at all. Run by `make bench` with BENCH_VENV holding cookiecutter and copier.
"""
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVHOST = os.environ.get("DEVHOST", os.path.join(ROOT, ".build/release/devhost"))
VENV = os.environ["BENCH_VENV"]
RUNS = int(os.environ.get("BENCH_RUNS", "9"))
SOURCE = os.path.join(ROOT, "templates/fastapi")


def defaults():
    import yaml  # PyYAML ships with the bench venv (copier depends on it)
    spec = yaml.safe_load(open(os.path.join(SOURCE, "template.yml")))
    values = {"project_name": "demo-app", "project_slug": "demo_app"}
    for name, var in (spec.get("variables") or {}).items():
        values[name] = str(var.get("default", "")) if isinstance(var, dict) else str(var)
    return values


def make_anchor_templates(work):
    values = defaults()
    tag = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
    # cookiecutter: cookiecutter.json + {{cookiecutter.project_name}}/ tree
    cc = os.path.join(work, "cc")
    cc_root = os.path.join(cc, "{{cookiecutter.project_name}}")
    # copier: copier.yml + *.jinja files
    cp = os.path.join(work, "copier")
    os.makedirs(cp)
    for folder, _, files in os.walk(os.path.join(SOURCE, "files")):
        rel = os.path.relpath(folder, os.path.join(SOURCE, "files"))
        for name in files:
            text = open(os.path.join(folder, name), encoding="utf-8").read()
            for target, replacement, suffix in ((cc_root, r"{{cookiecutter.\1}}", ""), (cp, r"{{\1}}", ".jinja")):
                out_dir = os.path.join(target, tag.sub(replacement, rel)) if rel != "." else target
                os.makedirs(out_dir, exist_ok=True)
                with open(os.path.join(out_dir, tag.sub(replacement, name) + suffix), "w", encoding="utf-8") as f:
                    f.write(tag.sub(replacement, text))
    json.dump(values, open(os.path.join(cc, "cookiecutter.json"), "w"))
    with open(os.path.join(cp, "copier.yml"), "w") as f:
        f.write("_templates_suffix: .jinja\n")
        for key, value in values.items():
            f.write(f"{key}:\n  type: str\n  default: {json.dumps(value)}\n")
    return cc, cp


def median_ms(command, work, label):
    samples = []
    for i in range(RUNS + 1):
        out = os.path.join(work, f"{label}-{i}")
        argv = [a.replace("OUT", out) for a in command]
        start = time.perf_counter()
        result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=work)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"{label} failed: {result.stderr.decode()[-2000:]}")
        if i > 0:
            samples.append(elapsed * 1000)
    return statistics.median(samples)


def create_us(folder):
    """Median time to create an empty file in `folder`: what the filesystem charges per file."""
    probe = tempfile.mkdtemp(dir=folder)
    samples = []
    for i in range(30):
        start = time.perf_counter()
        os.close(os.open(os.path.join(probe, str(i)), os.O_CREAT | os.O_WRONLY, 0o644))
        samples.append((time.perf_counter() - start) * 1e6)
    shutil.rmtree(probe)
    return statistics.median(samples)


def count_files(folder):
    return sum(len([f for f in files]) for root, _, files in os.walk(folder) if "/.git" not in root + "/")


def main():
    # Where users run `init`: under their home folder (BENCH_INIT_DIR overrides). Not in /tmp nor
    # under .build: on this machine's filesystem (ext4 without a journal) creating a file in a
    # folder whose neighbours were just deleted in bulk (a test run cleaning /tmp, a build
    # replacing .build) measured 100-300 us instead of 10-25 us, for minutes; devhost's time is
    # mostly creating files, the anchors' is mostly Python starting. The figure is printed below.
    parent = os.environ.get("BENCH_INIT_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "devhost-bench")
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-init-", dir=parent)
    try:
        cc, cp = make_anchor_templates(work)
        bin_ = os.path.join(VENV, "bin")
        # devhost as `make install` lays it out (the anchors run installed too). Also, the binary
        # the linker just wrote starts ~0.3 ms slower than a copy of it until its pages leave the
        # page cache (measured: identical files, alternating runs), which is not what users run.
        devhost = os.path.join(work, "prefix", "bin", "devhost")
        os.makedirs(os.path.dirname(devhost))
        shutil.copy2(DEVHOST, devhost)
        shutil.copytree(os.path.join(ROOT, "templates"), os.path.join(work, "prefix", "share", "devhost", "templates"))
        # The copy above (and a `make release` just before) leaves ~100 MB of dirty pages, which
        # would otherwise be written back during the first timings (devhost's).
        os.sync()
        results = {
            "devhost init (with git commit)": median_ms([devhost, "init", "-t", "fastapi", "--defaults", "OUT"], work, "devhost"),
            "devhost init --no-git": median_ms([devhost, "init", "-t", "fastapi", "--defaults", "--no-git", "OUT"], work, "nogit"),
            "cookiecutter": median_ms([f"{bin_}/cookiecutter", "--no-input", "-f", "-o", "OUT", cc], work, "cc"),
            "copier": median_ms([f"{bin_}/copier", "copy", "--defaults", "--quiet", cp, "OUT"], work, "copier"),
        }
        files = count_files(os.path.join(work, "devhost-1"))
        anchor = min(results["cookiecutter"], results["copier"])
        print(f"init: fastapi template, {files} files, median of {RUNS} runs (ms), in {work} (creating a file there: {create_us(work):.0f} us)")
        for name, ms in results.items():
            ratio = anchor / ms
            print(f"  {name:32s} {ms:8.1f} ms   {ratio:6.1f}x vs the faster anchor" if name.startswith("devhost") else f"  {name:32s} {ms:8.1f} ms")
        print(f"  aim: devhost (with git) at least 20x faster than the faster anchor ({anchor / 20:.1f} ms)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
