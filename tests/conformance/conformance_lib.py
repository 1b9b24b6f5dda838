"""Shared pieces of the conformance harness (stdlib only).

Used by capture.py (drives real Salt) and compare.py (drives brine-call):
the per-case sandbox layout, the minion config, command parsing, file names
and the normalisation rules documented in README.md.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
MINION_ID = "conformance-minion"
PLACEHOLDER_ROOT = "@ROOT@"
PLACEHOLDER_DURATION = "@DURATION@"
PLACEHOLDER_START_TIME = "@START_TIME@"
PLACEHOLDER_PID = "@PID@"
COMMAND_TIMEOUT = 180


def list_cases(selected=None):
    names = sorted(
        d for d in os.listdir(CASES_DIR) if os.path.isdir(os.path.join(CASES_DIR, d))
    )
    if selected:
        missing = [s for s in selected if s not in names]
        if missing:
            raise SystemExit(f"unknown case(s): {', '.join(missing)}")
        names = [n for n in names if n in selected]
    return names


def read_commands(case_dir):
    """One command per line; blank lines and lines starting with '#' are skipped.
    A line is split like a POSIX shell line (shlex), so quote arguments with spaces."""
    cmds = []
    with open(os.path.join(case_dir, "commands"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            cmds.append(line)
    return cmds


def command_argv(line, root):
    return [a.replace(PLACEHOLDER_ROOT, root) for a in shlex.split(line)]


def slug(line):
    s = re.sub(r"[^A-Za-z0-9]+", "-", line).strip("-").lower()
    return s[:60].rstrip("-") or "cmd"


def expected_name(index, line):
    return f"{index:02d}-{slug(line)}.json"


def _indent(text, prefix="  "):
    return "".join(prefix + l if l.strip() else l for l in text.splitlines(True))


def make_sandbox(case_dir, prefix):
    """Create the temp root for one case and return (root, config_dir).

    @ROOT@/conf/minion        the minion config (Salt's and Brine's key names)
    @ROOT@/srv/salt           copy of the case's states/
    @ROOT@/srv/pillar         copy of the case's pillar/
    @ROOT@/sandbox            empty dir; the only place apply cases may write
    @ROOT@/var/...            cachedir, pki_dir, sock_dir, log_file
    """
    root = tempfile.mkdtemp(prefix=prefix)
    root = os.path.realpath(root)
    conf = os.path.join(root, "conf")
    os.makedirs(conf)
    os.makedirs(os.path.join(root, "sandbox"))
    os.makedirs(os.path.join(root, "srv"))
    for sub, dest in (("states", "salt"), ("pillar", "pillar")):
        src = os.path.join(case_dir, sub)
        dst = os.path.join(root, "srv", dest)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            os.makedirs(dst)
    grains_text = ""
    gpath = os.path.join(case_dir, "grains.yaml")
    if os.path.exists(gpath):
        with open(gpath, encoding="utf-8") as f:
            grains_text = f.read().replace(PLACEHOLDER_ROOT, root)
    extra_text = ""
    cpath = os.path.join(case_dir, "config.yaml")
    if os.path.exists(cpath):
        with open(cpath, encoding="utf-8") as f:
            extra_text = f.read().replace(PLACEHOLDER_ROOT, root)
    var = os.path.join(root, "var")
    lines = [
        f"id: {MINION_ID}",
        "file_client: local",
        f"root_dir: {root}",
        "file_roots:",
        "  base:",
        f"    - {root}/srv/salt",
        "pillar_roots:",
        "  base:",
        f"    - {root}/srv/pillar",
        f"cachedir: {var}/cache",
        f"pki_dir: {var}/pki",
        f"sock_dir: {var}/run",
        f"log_file: {var}/log/minion",
        "log_level: quiet",
        "log_level_logfile: quiet",
        "color: False",
        "grains_blacklist:",
        "  - '*'",
    ]
    text = "\n".join(lines) + "\n"
    if grains_text.strip():
        text += "grains:\n" + _indent(grains_text)
        if not text.endswith("\n"):
            text += "\n"
    else:
        text += "grains: {}\n"
    if extra_text.strip():
        text += extra_text if extra_text.endswith("\n") else extra_text + "\n"
    with open(os.path.join(conf, "minion"), "w", encoding="utf-8") as f:
        f.write(text)
    return root, conf


def run_env(root):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("SALT_", "BRINE_")):
            del env[k]
    env.update(
        {
            "PYTHONHASHSEED": "0",
            "TZ": "UTC",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": os.path.join(root, "sandbox"),
            "NO_COLOR": "1",
        }
    )
    return env


# ---------------------------------------------------------------- normalise

_STATE_KEY = re.compile(r"^[A-Za-z0-9_.]+_\|-")


def _replace_root(s, roots):
    for r in roots:
        s = s.replace(r, PLACEHOLDER_ROOT)
    return s


def normalise(value, roots):
    """Apply the rules in README.md ("Normalisation") to parsed JSON."""
    if isinstance(value, str):
        return _replace_root(value, roots)
    if isinstance(value, list):
        return [normalise(v, roots) for v in value]
    if isinstance(value, dict):
        out = {}
        is_result = "__run_num__" in value or (
            "result" in value and "comment" in value and "changes" in value
        )
        is_proc = "pid" in value and "retcode" in value
        for k, v in value.items():
            nk = _replace_root(k, roots)
            if is_result and k == "duration":
                out[nk] = PLACEHOLDER_DURATION
            elif is_result and k == "start_time":
                out[nk] = PLACEHOLDER_START_TIME
            elif is_proc and k == "pid":
                out[nk] = PLACEHOLDER_PID
            elif is_result and k == "comment" and isinstance(v, str):
                out[nk] = _sort_failed_requisites(normalise(v, roots))
            else:
                out[nk] = normalise(v, roots)
        if is_result:
            _sort_recurse_sets(out)
        return out
    return value


_FAILED_REQUISITES = "One or more requisite failed: "


def _sort_failed_requisites(comment):
    """Salt builds "One or more requisite failed: a, b" from a Python set, so
    the order of the names changes from run to run (string hashing is
    randomised per process): compare the names sorted."""
    if not comment.startswith(_FAILED_REQUISITES):
        return comment
    names = comment[len(_FAILED_REQUISITES):].split(", ")
    return _FAILED_REQUISITES + ", ".join(sorted(names))


_PATH_BLOCK = re.compile(r"\n\n(?=#### [^\n]* ####(?:\n|$))")


def _sort_recurse_sets(result):
    """`file.recurse` walks Python sets of paths (under the temp root, so no
    two runs share their order): its comment's "#### <path> ####" blocks, the
    paths of a "#### removed ####" block, its `changes` keys and its
    `changes.removed` list. Compare them sorted (blocks without their
    trailing newlines, joined by a blank line)."""
    comment = result.get("comment")
    changes = result.get("changes")
    if not isinstance(comment, str) or not isinstance(changes, dict):
        return
    if not comment.startswith(("#### ", "Recursively updated ")):
        return
    if comment.startswith("#### "):
        blocks = []
        for block in _PATH_BLOCK.split(comment):
            header, _, body = block.rstrip("\n").partition("\n")
            if header == "#### removed ####":
                body = "\n".join(sorted(body.split("\n")))
            blocks.append(header + "\n" + body if body else header)
        result["comment"] = "\n\n".join(sorted(blocks))
    removed = changes.get("removed")
    if isinstance(removed, list) and all(isinstance(r, str) for r in removed):
        changes["removed"] = sorted(removed)
    result["changes"] = dict(sorted(changes.items()))


# The highstate outputter's times, in full (`Started: 01:02:03.456789`,
# `Duration: 1.234 ms`) and terse (`Started: - 01:02:...`) layouts, and its
# summary's right-aligned total (`Total run time:  12.345 ms`).
_TEXT_START_TIME = re.compile(r"(Started: (?:- )?)\d\d:\d\d:\d\d\.\d+")
_TEXT_DURATION = re.compile(r"(Duration: )\d+(?:\.\d+)? ms")
_TEXT_TOTAL_TIME = re.compile(r"(Total run time:) +\d+(?:\.\d+)? m?s")
# cmd.run's `pid` in the nested changes, with or without colour codes.
_TEXT_PID = re.compile(r"(pid(?:\x1b\[[0-9;]*m)*:\n *(?:\x1b\[[0-9;]*m)*)\d+")


def normalise_text(text, roots):
    text = _replace_root(text, roots)
    text = _TEXT_START_TIME.sub(r"\g<1>" + PLACEHOLDER_START_TIME, text)
    text = _TEXT_DURATION.sub(r"\g<1>" + PLACEHOLDER_DURATION, text)
    text = _TEXT_PID.sub(r"\g<1>" + PLACEHOLDER_PID, text)
    return _TEXT_TOTAL_TIME.sub(r"\g<1> " + PLACEHOLDER_DURATION, text)


def root_aliases(root):
    """The temp root as it may be spelled in output (realpath and as given)."""
    out = {root, os.path.realpath(root)}
    return sorted(out, key=len, reverse=True)


def run_local(binary, conf, line, root):
    """Run one case command with `<binary> --local -c <conf> --out=json -l quiet`
    (salt-call and brine-call take the same flags) in the sandbox; the finished
    process. A command that names its own `--out=...` keeps it (its stdout is
    then compared as text). Raises subprocess.TimeoutExpired after COMMAND_TIMEOUT."""
    command = command_argv(line, root)
    own_out = any(a.startswith("--out=") for a in command)
    argv = [binary, "--local", "-c", conf] + ([] if own_out else ["--out=json"])
    argv += ["-l", "quiet"] + command
    env = run_env(root)
    return subprocess.run(
        argv,
        cwd=os.path.join(root, "sandbox"),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def record(proc, root):
    """The expected-file document for one finished command."""
    roots = root_aliases(root)
    doc = {"retcode": proc.returncode}
    try:
        parsed = json.loads(proc.stdout) if proc.stdout.strip() else None
        ok = proc.stdout.strip() != ""
    except ValueError:
        ok = False
    if ok:
        doc["out"] = normalise(parsed, roots)
    else:
        doc["stdout"] = normalise_text(proc.stdout, roots)
        doc["stderr"] = normalise_text(proc.stderr, roots)
    return doc


def dump(doc, sort_keys=False):
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=sort_keys) + "\n"
