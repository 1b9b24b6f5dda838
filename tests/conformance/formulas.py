#!/usr/bin/env python3
"""Render real Salt formulas with Salt 3008.5 and with Brine, and compare.

usage: formulas.py FORMULAS_DIR [FORMULA ...] [--markdown FILE] [--save DIR]
                   [--brine-call PATH] [--salt-call PATH] [--sls FORMULA=SLS]
                   [--no-apply FORMULA] [--apply all|rendered|none] [--jobs N]

FORMULAS_DIR holds formula checkouts, one directory each, laid out like the
saltstack-formulas repositories:

    FORMULAS_DIR/nginx-formula/nginx/init.sls, map.jinja, ...   the state tree
    FORMULAS_DIR/nginx-formula/pillar.example                  the pillar
    FORMULAS_DIR/nginx-formula/FORMULA                         optional, `name: nginx`

For every formula (or only the FORMULA names given), two sandboxes are built
with conformance_lib (the same minion config, env and normalisation as the
hand-written cases; see README.md):

  - file_roots base = a copy of the formula directory;
  - pillar_roots base = the formula's pillar.example as `formula_pillar.sls`,
    assigned to every minion by a generated top.sls (`base: {'*': [formula_pillar]}`);
    no pillar.example gives an empty pillar;
  - grains = the fixed Debian 12 grains below (`grains_blacklist: ['*']` removes
    every detected grain, so these are all the grains there are).

The SLS is `--sls FORMULA=SLS` if given, else the formula's name (FORMULA's
`name:`, or the directory name without `-formula`) when `<name>/init.sls` or
`<name>.sls` exists, else every `<name>/*.sls`, comma-separated. Then, on Salt
(`salt-call --local`) and on Brine (`brine-call --local`):

    state.show_sls SLS
    state.show_low_sls SLS
    state.apply SLS test=True    (see --apply)

state.apply test=True changes nothing, but it reads the host (installed
packages, files under /etc, services) and runs `onlyif`/`unless` commands, so
its result depends on the machine; both runs see the same machine. --apply
rendered (the default) runs it only when Salt's show_sls succeeded (otherwise
both would just repeat the render error; Brine runs first and applies anyway,
its result then dropped); --no-apply FORMULA skips it on both sides for one
formula (e.g. one whose onlyif/unless commands you do not want run).

Some pillars embed the current time (postgres-formula's `status.time`), which
two runs never share: on top of conformance_lib's rules, a date and time of day
written `YY[YY]-MM-DD_HH:MM:SS` (or with a space or `T` before the time)
anywhere in a string is compared as `@TIMESTAMP@`. (Freezing the clock with
libfaketime instead makes Python's `time.sleep` fail with EINVAL inside Salt.)

Both outputs are normalised with conformance_lib's rules and compared with
mapping key order ignored. A command that differs only in states where Salt
itself crashed (its comment "An exception occurred in this state: Traceback
...", result False on both sides, Brine's comment a clean error) is reported
apart ("same but Salt crashes in N state(s)"), not counted as identical.

Salt does not always reproduce its own output (a pillar drawing a number
with Jinja's `|random`, e.g. prometheus-formula's `altpriority`): when Salt's
and Brine's outputs of a command differ, Salt runs that command a second time
in the same sandbox, and every field whose value differs between Salt's two
runs (a value, or the varying token of a mapping key such as a state ID with
the number in it) is masked as `@SALT-NONDETERMINISTIC@` on all three outputs
before comparing again. Brine's value there is masked only if it is present
in the same place with the same type (a number for a number; a string with
the same other tokens around a token of the same kind, digits for digits),
so a missing or mistyped value still differs. Such a command is reported
"same (Salt's own output varies in N field(s))" and counted identical.

Output: a Markdown table (stdout, or --markdown
FILE): per formula, the commands identical / run, and for each difference the
first differing line of each side. --save DIR writes every normalised output
(DIR/<formula>/<NN>-<command>.{salt,brine}.json) and the diffs, to refine the
causes by hand. Exit status 0 if everything is identical, 1 otherwise.

Example:
    tests/conformance/formulas.py /tmp/formulas --markdown /tmp/formulas.md --save /tmp/formulas-out
    tests/conformance/formulas.py /tmp/formulas nginx openssh

Salt comes from ~/.cache/brine-salt-baseline/venv/bin/salt-call (or --salt-call
or $SALT_CALL), brine-call from ~/.cache/brine-ci-target/debug/brine-call (or
--brine-call or $BRINE_CALL_BIN); a private copy of brine-call is run, so a
rebuild during the run cannot mix two builds, and the table's first line names
both versions (brine-call's mtime and sha256). Binds no port; writes only under
temp dirs (and --save / --markdown). A full run of 44 formulas takes ~10 minutes
(--jobs 2, 2 busy cores).
"""

import argparse
import concurrent.futures
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import hashlib
import json

import conformance_lib as lib

# A Debian 12 (bookworm) amd64 KVM guest, as Salt 3008.5's core grains
# describe one. `id` matches the sandbox's minion id.
GRAINS_YAML = """\
id: conformance-minion
host: conformance-minion
nodename: conformance-minion
localhost: conformance-minion
fqdn: conformance-minion.example.org
domain: example.org
fqdns: []
fqdn_ip4: ['192.0.2.10']
fqdn_ip6: []
master: salt
kernel: Linux
kernelrelease: 6.1.0-28-amd64
kernelversion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)'
os: Debian
os_family: Debian
osfullname: Debian
osfinger: Debian-12
oscodename: bookworm
osrelease: '12'
osrelease_info: [12]
osmajorrelease: 12
osarch: amd64
lsb_distrib_id: Debian
lsb_distrib_codename: bookworm
lsb_distrib_release: '12'
lsb_distrib_description: Debian GNU/Linux 12 (bookworm)
cpuarch: x86_64
cpu_model: Intel Xeon Processor (Skylake, IBRS)
cpu_flags: [fpu, vme, de, pse, tsc, msr, pae, mce, cx8, apic, sep, mtrr, pge, mca, cmov, pat, pse36, clflush, mmx, fxsr, sse, sse2, ht, syscall, nx, lm, constant_tsc, rep_good, nopl, xtopology, cpuid, pni, pclmulqdq, ssse3, fma, cx16, sse4_1, sse4_2, x2apic, movbe, popcnt, aes, xsave, avx, f16c, rdrand, hypervisor, lahf_lm, abm, avx2, bmi1, bmi2]
num_cpus: 2
mem_total: 3924
swap_total: 0
num_gpus: 0
gpus: []
virtual: kvm
manufacturer: QEMU
productname: Standard PC (Q35 + ICH9, 2009)
biosversion: 1.16.2-debian-1.16.2-1
biosreleasedate: 04/01/2014
serialnumber: ''
uuid: 5b0c3e8a-3f52-4d0e-9a55-2f1c8a6d7e01
machine_id: 0f8d1c2b3a4e5f60718293a4b5c6d7e8
server_id: 1822464738
disks: [vda]
ssds: []
efi: false
efi-secure-boot: false
init: systemd
systemd:
  version: '252'
  features: +PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP +LIBFDISK +PCRE2 -PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD -BPF_FRAMEWORK -XKBCOMMON +UTMP +SYSVINIT default-hierarchy=unified
selinux:
  enabled: false
  enforced: Disabled
shell: /bin/bash
path: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cwd: /
uid: 0
gid: 0
username: root
groupname: root
pid: 4242
locale_info:
  defaultlanguage: en_US
  defaultencoding: UTF-8
  detectedencoding: utf-8
  timezone: UTC
ipv4: ['127.0.0.1', '192.0.2.10']
ipv6: ['::1', 'fe80::5054:ff:fe12:3456']
ip4_interfaces:
  lo: ['127.0.0.1']
  eth0: ['192.0.2.10']
ip6_interfaces:
  lo: ['::1']
  eth0: ['fe80::5054:ff:fe12:3456']
ip_interfaces:
  lo: ['127.0.0.1', '::1']
  eth0: ['192.0.2.10', 'fe80::5054:ff:fe12:3456']
ip4_gw: 192.0.2.1
ip6_gw: false
ip_gw: true
hwaddr_interfaces:
  lo: '00:00:00:00:00:00'
  eth0: '52:54:00:12:34:56'
dns:
  nameservers: ['192.0.2.1']
  ip4_nameservers: ['192.0.2.1']
  ip6_nameservers: []
  sortlist: []
  domain: ''
  search: [example.org]
  options: []
pythonexecutable: /opt/saltstack/salt/bin/python3.10
pythonpath: [/opt/saltstack/salt/bin, /opt/saltstack/salt/lib/python310.zip, /opt/saltstack/salt/lib/python3.10, /opt/saltstack/salt/lib/python3.10/lib-dynload, /opt/saltstack/salt/lib/python3.10/site-packages]
pythonversion: [3, 10, 18, final, 0]
saltpath: /opt/saltstack/salt/lib/python3.10/site-packages/salt
saltversion: '3008.5'
saltversioninfo: [3008, 5]
zmqversion: 4.3.4
"""

COMMANDS = ("state.show_sls {sls}", "state.show_low_sls {sls}", "state.apply {sls} test=True")
KINDS = ("show_sls", "show_low_sls", "apply test=True")
PILLAR_SLS = "formula_pillar"


def formula_name(path):
    fpath = os.path.join(path, "FORMULA")
    if os.path.isfile(fpath):
        with open(fpath, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("name:"):
                    name = line.split(":", 1)[1].strip().strip("'\"")
                    if name and os.path.isdir(os.path.join(path, name)):
                        return name
    base = os.path.basename(os.path.normpath(path))
    return base[: -len("-formula")] if base.endswith("-formula") else base


def main_sls(path, name):
    if os.path.isfile(os.path.join(path, name, "init.sls")) or os.path.isfile(
        os.path.join(path, name + ".sls")
    ):
        return name
    d = os.path.join(path, name)
    if os.path.isdir(d):
        subs = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".sls"))
        if subs:
            return ",".join(f"{name}.{s}" for s in subs)
    return None


def stage(path, tmp):
    """A conformance case dir (states/, pillar/, grains.yaml) for one formula."""
    case = os.path.join(tmp, "case")
    os.makedirs(os.path.join(case, "pillar"))
    # make_sandbox copies states/ (following this link) into @ROOT@/srv/salt.
    os.symlink(os.path.abspath(path), os.path.join(case, "states"))
    example = os.path.join(path, "pillar.example")
    pillar = os.path.join(case, "pillar")
    if os.path.isfile(example):
        shutil.copyfile(example, os.path.join(pillar, PILLAR_SLS + ".sls"))
        top = f"base:\n  '*':\n    - {PILLAR_SLS}\n"
    else:
        top = "base: {}\n"
    with open(os.path.join(pillar, "top.sls"), "w", encoding="utf-8") as f:
        f.write(top)
    with open(os.path.join(case, "grains.yaml"), "w", encoding="utf-8") as f:
        f.write(GRAINS_YAML)
    return case


def run(binary, is_salt, case, lines, differs_from=None):
    """Run `lines` one after the other in one fresh sandbox; the documents.

    With `differs_from` (the other side's documents, for Salt: Brine's),
    a command whose output differs from the other side's is run a second
    time in the same sandbox, and that second document is returned too:
    (docs, {index: second doc}). A field that changes between the two runs
    is one the program does not reproduce itself (see mask_nondeterminism)."""
    root, conf = lib.make_sandbox(case, "formulas-salt-" if is_salt else "formulas-brine-")
    docs, again = [], {}
    try:
        for i, line in enumerate(lines):
            docs.append(run_once(binary, conf, line, root))
            if differs_from is not None and i < len(differs_from) and \
                    lib.dump(docs[i], sort_keys=True) != lib.dump(differs_from[i], sort_keys=True):
                again[i] = run_once(binary, conf, line, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return docs if differs_from is None else (docs, again)


def run_once(binary, conf, line, root):
    try:
        proc = lib.run_local(binary, conf, line, root)
        return mask_timestamps(lib.record(proc, root))
    except subprocess.TimeoutExpired:
        return {"retcode": None, "stdout": "", "stderr": "TIMEOUT"}


TIMESTAMP = re.compile(r"\b(?:\d{4}|\d{2})-\d{2}-\d{2}[_ T]\d{2}:\d{2}:\d{2}\b")


def mask_timestamps(value):
    """A date and time of day in any string, as `@TIMESTAMP@` (a pillar that
    embeds the time of the run, such as postgres-formula's backup suffix)."""
    if isinstance(value, str):
        return TIMESTAMP.sub("@TIMESTAMP@", value)
    if isinstance(value, list):
        return [mask_timestamps(v) for v in value]
    if isinstance(value, dict):
        return {mask_timestamps(k): mask_timestamps(v) for k, v in value.items()}
    return value


MISSING = object()


def _summary(v, path=()):
    """A one-line picture of a value for the table."""
    if v is MISSING:
        return "absent"
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        if tuple(path) == ("out", "local"):
            return "error " + _summary(v[0])  # Salt's and Brine's error lists
        return repr(v)
    if isinstance(v, dict):
        return f"{{{len(v)} keys}}"
    if isinstance(v, list):
        return f"[{len(v)} items]"
    if isinstance(v, str):
        line = next((l for l in v.splitlines() if l.strip()), "")
        return repr(line)
    return repr(v)


def _leaf_diffs(a, b, path=()):
    """(path, salt value, brine value) for every differing leaf, in key order."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from _leaf_diffs(a.get(k, MISSING), b.get(k, MISSING), path + (k,))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and not all(
        isinstance(x, str) for x in a + b
    ):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _leaf_diffs(x, y, path + (i,))
    elif isinstance(a, str) and isinstance(b, str) and a != b:
        la, lb = a.splitlines(), b.splitlines()
        i = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
        yield path, (la[i] if i < len(la) else ""), (lb[i] if i < len(lb) else "")
    elif a != b or type(a) is not type(b):
        yield path, a, b


def _field(path):
    """The name a difference is grouped by: the innermost mapping key that is
    not a state id / state key / list index (`changes`, `order`, `comment`...)."""
    keys = [k for k in path if isinstance(k, str)]
    if keys[:2] == ["out", "local"]:
        keys = keys[2:]
        if keys and "_|-" in keys[0]:
            keys = keys[1:]  # state.apply: the state key
        elif path[2:3] and isinstance(path[2], str):
            keys = keys[1:]  # show_sls: the state id
    return ".".join(keys[:2]) if keys else ".".join(str(k) for k in path[:2]) or "(document)"


def describe(salt_doc, brine_doc):
    """Distinct differences: [(field, count, example salt, example brine, where)]."""
    groups = {}
    for path, a, b in _leaf_diffs(salt_doc, brine_doc):
        f = _field(path)
        if f not in groups:
            where = ""
            if len(path) > 3 and isinstance(path[2], int):  # show_low_sls: the chunk's id
                chunk = salt_doc["out"]["local"][path[2]]
                where = chunk.get("__id__", "") if isinstance(chunk, dict) else ""
            elif len(path) > 3:
                where = path[2]
            groups[f] = [0, _summary(a, path), _summary(b, path), where]
        groups[f][0] += 1
    return [(f, *v) for f, v in groups.items()]


def short(s, n=110):
    s = str(s).replace("|", "\\|").replace("`", "'").replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def compare_formula(path, args):
    name = formula_name(path)
    label = os.path.basename(os.path.normpath(path))
    sls = args.sls.get(label) or args.sls.get(name) or main_sls(path, name)
    res = {"formula": label, "sls": sls, "cmds": []}
    if not sls:
        res["error"] = f"no {name}/init.sls, {name}.sls or {name}/*.sls"
        return res
    tmp = tempfile.mkdtemp(prefix="formulas-stage-")
    may_apply = args.apply != "none" and label not in args.no_apply and name not in args.no_apply
    try:
        case = stage(path, tmp)
        lines = [c.format(sls=sls) for c in COMMANDS]
        # Brine first, so that Salt can run again at once, in the same
        # sandbox, each command whose output differs from Brine's.
        brine = run(args.brine_snapshot, False, case, lines if may_apply else lines[:2])
        salt, again = run(args.salt_call, True, case, lines[:2], brine)
        if may_apply and (args.apply == "all" or salt[0]["retcode"] == 0):
            more, more_again = run(args.salt_call, True, case, lines[2:], brine[2:])
            salt += more
            again.update({i + 2: d for i, d in more_again.items()})
        brine = brine[: len(salt)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for i, (line, s, b) in enumerate(zip(lines, salt, brine)):
        entry = compare_command(s, again.get(i), b)
        entry.update(kind=KINDS[i], line=line)
        a_txt, b_txt = entry.pop("salt_txt"), entry.pop("brine_txt")
        res["cmds"].append(entry)
        if args.save:
            d = os.path.join(args.save, label)
            os.makedirs(d, exist_ok=True)
            stem = lib.expected_name(i + 1, line)[:-5]
            for side, txt in (("salt", a_txt), ("brine", b_txt)):
                with open(os.path.join(d, f"{stem}.{side}.json"), "w", encoding="utf-8") as f:
                    f.write(txt)
            with open(os.path.join(d, f"{stem}.diff"), "w", encoding="utf-8") as f:
                f.writelines(difflib.unified_diff(
                    a_txt.splitlines(True), b_txt.splitlines(True),
                    fromfile=f"salt/{label}/{stem}", tofile=f"brine/{label}/{stem}"))
    if len(salt) < len(COMMANDS):
        res["apply_skipped"] = True
    return res


def compare_command(salt, salt_again, brine):
    """The table entry for one command: Salt's document, Salt's second run
    of it (None when it was not run again) and Brine's.

    Fields that differ between Salt's two runs are masked on all three
    documents first (mask_nondeterminism); the entry says in how many
    (`salt_varies`). The masked texts are returned too, for --save."""
    s_txt, b_txt = lib.dump(salt, sort_keys=True), lib.dump(brine, sort_keys=True)
    entry = {"same": s_txt == b_txt, "salt_rc": salt["retcode"], "brine_rc": brine["retcode"]}
    if not entry["same"] and salt_again is not None \
            and lib.dump(salt_again, sort_keys=True) != s_txt:
        salt, _, brine, varies = mask_nondeterminism(salt, salt_again, brine)
        s_txt, b_txt = lib.dump(salt, sort_keys=True), lib.dump(brine, sort_keys=True)
        entry["salt_varies"] = varies
        entry["same"] = s_txt == b_txt
    if not entry["same"]:
        entry["diff"] = describe(salt, brine)
        entry["salt_crashes"] = only_salt_crashes(salt, brine)
    entry["salt_txt"], entry["brine_txt"] = s_txt, b_txt
    return entry


NONDETERMINISTIC = "@SALT-NONDETERMINISTIC@"
# A string's tokens: runs of ASCII letters and digits, and single other characters.
_TOKEN = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9]")


def _token_class(a, b):
    """What a token may be where Salt drew `a` once and `b` the other time:
    'digits', 'alnum' (a word or hex string) or the exact text."""
    if a.isdigit() and b.isdigit():
        return "digits"
    if a.isalnum() and b.isalnum():
        return "alnum"
    return None


def _fits(token, cls):
    return token.isdigit() if cls == "digits" else token.isalnum() if cls == "alnum" else False


def _mask_string(a, b, c):
    """(a masked, b masked, c masked or c as it was): the tokens where Salt's
    two strings differ become NONDETERMINISTIC. Brine's string `c` is masked
    only when it has the same tokens count and, in each masked place, a token
    of the same kind (digits for digits); its other tokens stay and are
    compared. Strings that do not split alike are masked whole."""
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    classes = [_token_class(x, y) for x, y in zip(ta, tb)]
    varying = [i for i, (x, y) in enumerate(zip(ta, tb)) if x != y]
    if len(ta) != len(tb) or any(classes[i] is None for i in varying):
        return NONDETERMINISTIC, NONDETERMINISTIC, NONDETERMINISTIC if isinstance(c, str) else c

    def masked(tokens):
        return "".join(NONDETERMINISTIC if i in varying else t for i, t in enumerate(tokens))

    tc = _TOKEN.findall(c) if isinstance(c, str) else None
    if tc is not None and len(tc) == len(ta) and all(_fits(tc[i], classes[i]) for i in varying):
        c = masked(tc)
    return masked(ta), masked(tb), c


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _pair_keys(only_a, only_b):
    """Pair the keys only Salt's first run has with those only its second run
    has, each with the one that splits into as many tokens, the same
    punctuation, and the fewest differing tokens (a state ID with a random
    number in it): [(key a, key b)]."""
    pairs, free = [], sorted(only_b)
    for ka in sorted(only_a):
        ta, best = _TOKEN.findall(ka), None
        for kb in free:
            tb = _TOKEN.findall(kb)
            if len(tb) != len(ta):
                continue
            diff = [(x, y) for x, y in zip(ta, tb) if x != y]
            if any(_token_class(x, y) is None for x, y in diff):
                continue
            if best is None or len(diff) < best[0]:
                best = (len(diff), kb)
        if best is not None:
            free.remove(best[1])
            pairs.append((ka, best[1]))
    return pairs


class _Counter:
    def __init__(self):
        self.fields = 0


def _mask(a, b, c, count):
    """(a, b, c) with every place where Salt's runs `a` and `b` differ
    masked; c is Brine's value at the same place (MISSING if none)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return _mask_dict(a, b, c, count)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        cl = c if isinstance(c, list) and len(c) == len(a) else None
        out = [_mask(x, y, cl[i] if cl else MISSING, count) for i, (x, y) in enumerate(zip(a, b))]
        return [o[0] for o in out], [o[1] for o in out], [o[2] for o in out] if cl else c
    if a == b and type(a) is type(b):
        return a, b, c
    count.fields += 1
    if isinstance(a, str) and isinstance(b, str):
        return _mask_string(a, b, c)
    if _is_number(a) and _is_number(b):
        same_type = _is_number(c) and type(c) is type(a)
        return NONDETERMINISTIC, NONDETERMINISTIC, NONDETERMINISTIC if same_type else c
    same_type = c is not MISSING and type(c) is type(a)
    return NONDETERMINISTIC, NONDETERMINISTIC, NONDETERMINISTIC if same_type else c


def _mask_dict(a, b, c, count):
    cd = c if isinstance(c, dict) else None
    out_a, out_b, out_c, used = {}, {}, {}, set()
    for k in a:
        if k in b:
            cv = cd.get(k, MISSING) if cd is not None else MISSING
            out_a[k], out_b[k], rc = _mask(a[k], b[k], cv, count)
            if cv is not MISSING:
                out_c[k] = rc
                used.add(k)
    paired = set()
    for ka, kb in _pair_keys([k for k in a if k not in b], [k for k in b if k not in a]):
        mk, _, _ = _mask_string(ka, kb, None)
        if mk in out_a:  # two keys would mask alike: leave both as they are
            continue
        kc = next((k for k in (cd or {}) if k not in a and k not in b and k not in used
                   and _mask_string(ka, kb, k)[2] == mk), None)
        count.fields += 1
        cv = cd[kc] if kc is not None else MISSING
        out_a[mk], out_b[mk], rc = _mask(a[ka], b[kb], cv, count)
        if kc is not None:
            out_c[mk] = rc
            used.add(kc)
        paired.update((ka, kb))
    out_a.update((k, v) for k, v in a.items() if k not in b and k not in paired)
    out_b.update((k, v) for k, v in b.items() if k not in a and k not in paired)
    if cd is None:
        return out_a, out_b, c
    out_c.update((k, v) for k, v in cd.items() if k not in used)
    return out_a, out_b, out_c


def mask_nondeterminism(salt, salt_again, brine):
    """Salt's two runs of one command and Brine's run of it, with every
    value Salt did not reproduce (a number drawn by Jinja's `random`, in a
    value or inside a state ID) replaced by NONDETERMINISTIC on all three:
    (salt, salt_again, brine, number of fields masked). Brine's value is
    masked only where it has one in the same place and of the same type
    (for a string: the same tokens around a token of the same kind), so a
    missing or mistyped value still shows as a difference."""
    count = _Counter()
    a, b, c = _mask(salt, salt_again, brine, count)
    return a, b, c, count.fields


SALT_CRASH = "An exception occurred in this state: Traceback (most recent call last):"


def only_salt_crashes(salt, brine):
    """How many states differ only because Salt crashed in them (a state whose
    comment is Salt's "An exception occurred in this state: Traceback ..."
    and whose result is False on both sides, Brine giving a clean error),
    when that is the only difference; else 0. The table reports these
    commands apart: the same result, but no text to compare."""
    s_out = (salt.get("out") or {}).get("local")
    b_out = (brine.get("out") or {}).get("local")
    if not isinstance(s_out, dict) or not isinstance(b_out, dict) or salt["retcode"] != brine["retcode"]:
        return 0
    s_out, b_out = json.loads(json.dumps(s_out)), json.loads(json.dumps(b_out))
    crashes = 0
    for tag, s_state in s_out.items():
        b_state = b_out.get(tag)
        if not (isinstance(s_state, dict) and isinstance(b_state, dict)):
            continue
        comment = s_state.get("comment")
        if isinstance(comment, str) and comment.startswith(SALT_CRASH) \
                and s_state.get("result") is False and b_state.get("result") is False:
            s_state["comment"] = b_state["comment"] = "@SALT_CRASH@"
            crashes += 1
    same = lib.dump(s_out, sort_keys=True) == lib.dump(b_out, sort_keys=True)
    return crashes if same else 0


def cell(entry):
    if entry is None:
        return "skipped"
    rc = f" (rc {entry['salt_rc']})" if entry["salt_rc"] else ""
    varies = entry.get("salt_varies")
    if varies:
        rc += f" (Salt's own output varies in {varies} field(s))"
    if entry["same"]:
        return "same" + rc
    if entry.get("salt_crashes"):
        return f"same but Salt crashes in {entry['salt_crashes']} state(s){rc}"
    return "**differs**" + rc


def markdown(results, args):
    out = []
    out.append(
        f"Salt: `{args.salt_version}`. Brine: `{args.brine_call}` "
        f"(modified {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(args.brine_mtime))}, "
        f"sha256 {args.brine_sha[:12]}).\n"
    )
    out.append("| Formula | SLS | show_sls | show_low_sls | apply test=True | Identical | Differences: field (first state, count): Salt / Brine |")
    out.append("|---|---|---|---|---|---|---|")
    for r in results:
        cmds = {c["kind"]: c for c in r["cmds"]}
        same = sum(c["same"] for c in r["cmds"])
        if "error" in r:
            out.append(f"| {r['formula']} | - | - | - | - | - | {r['error']} |")
            continue
        causes = []
        for c in r["cmds"]:
            if c["same"]:
                continue
            ds = c["diff"]
            parts = []
            for field, n, sv, bv, where in ds[:3]:
                at = f" ({short(where, 40)}{', ' + str(n) + 'x' if n > 1 else ''})" if where else ""
                parts.append(f"`{short(field, 40)}`{at}: Salt `{short(sv)}` / Brine `{short(bv)}`")
            more = f"; +{len(ds) - 3} more" if len(ds) > 3 else ""
            causes.append(f"{c['kind']}: " + "; ".join(parts) + more)
        out.append(
            f"| {r['formula']} | `{r['sls']}` | {cell(cmds.get(KINDS[0]))} | "
            f"{cell(cmds.get(KINDS[1]))} | {cell(cmds.get(KINDS[2]))} | "
            f"{same}/{len(r['cmds'])} | {'<br>'.join(causes) or 'identical'} |"
        )
    out.append("")
    tot = {k: [0, 0] for k in KINDS}
    for r in results:
        for c in r["cmds"]:
            tot[c["kind"]][0] += c["same"]
            tot[c["kind"]][1] += 1
    allsame = sum(1 for r in results if r["cmds"] and all(c["same"] for c in r["cmds"]))
    crashed = sum(
        1 for r in results
        if r["cmds"] and all(c["same"] or c.get("salt_crashes") for c in r["cmds"])
        and not all(c["same"] for c in r["cmds"])
    )
    varied = sum(1 for r in results for c in r["cmds"] if c["same"] and c.get("salt_varies"))
    out.append(
        "Identical per command: "
        + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in tot.items())
        + f"; formulas identical on every command run: {allsame}/{len(results)}"
        + (f"; {crashed} more identical except in the states where Salt crashes "
           "with a Python traceback (Brine fails them cleanly)" if crashed else "")
        + (f"; {varied} of the identical commands after masking the fields Salt's own "
           "output does not reproduce" if varied else "")
        + "."
    )
    return "\n".join(out) + "\n"


def parse_sls(items):
    out = {}
    for it in items:
        if "=" not in it:
            raise SystemExit(f"--sls wants FORMULA=SLS, got {it!r}")
        k, v = it.split("=", 1)
        out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("formulas_dir")
    ap.add_argument("formulas", nargs="*", help="directory names (or formula names) to run; default all")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    ap.add_argument("--salt-call", default=os.environ.get("SALT_CALL")
                    or os.path.join(cache, "brine-salt-baseline/venv/bin/salt-call"))
    ap.add_argument("--brine-call", default=os.environ.get("BRINE_CALL_BIN")
                    or os.path.join(cache, "brine-ci-target/debug/brine-call"))
    ap.add_argument("--markdown", help="write the table here instead of stdout")
    ap.add_argument("--save", help="write normalised outputs and diffs under this dir")
    ap.add_argument("--sls", action="append", default=[], help="FORMULA=SLS (comma list allowed)")
    ap.add_argument("--no-apply", action="append", default=[], help="skip state.apply test=True for FORMULA")
    ap.add_argument("--apply", choices=("all", "rendered", "none"), default="rendered")
    ap.add_argument("--jobs", type=int, default=2, help="formulas run in parallel")
    args = ap.parse_intermixed_args()
    args.sls = parse_sls(args.sls)
    args.no_apply = set(args.no_apply)
    os.umask(0o022)
    for b in (args.salt_call, args.brine_call):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"formulas.py: {b} is not an executable")
    args.salt_call = os.path.abspath(args.salt_call)
    args.brine_call = os.path.abspath(args.brine_call)
    args.brine_mtime = os.stat(args.brine_call).st_mtime
    with open(args.brine_call, "rb") as f:
        args.brine_sha = hashlib.sha256(f.read()).hexdigest()
    # Run a private copy, so that a rebuild during the run cannot mix two builds.
    snapdir = tempfile.mkdtemp(prefix="formulas-brine-bin-")
    args.brine_snapshot = os.path.join(snapdir, "brine-call")
    shutil.copy2(args.brine_call, args.brine_snapshot)
    args.salt_version = subprocess.run(
        [args.salt_call, "--version"], capture_output=True, text=True
    ).stdout.strip()
    root = os.path.abspath(args.formulas_dir)
    dirs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if args.formulas:
        want = set(args.formulas) | {f + "-formula" for f in args.formulas}
        dirs = [d for d in dirs if d in want]
        if not dirs:
            raise SystemExit("formulas.py: none of the named formulas is in " + root)
    if args.save:
        os.makedirs(args.save, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = [ex.submit(compare_formula, os.path.join(root, d), args) for d in dirs]
        results = []
        for d, fut in zip(dirs, futs):
            r = fut.result()
            results.append(r)
            print(f"{d}: " + " ".join(f"{c['kind']}={'same' if c['same'] else 'DIFF'}"
                                      for c in r["cmds"]), file=sys.stderr, flush=True)
    shutil.rmtree(snapdir, ignore_errors=True)
    text = markdown(results, args)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    ok = all(c["same"] for r in results for c in r["cmds"]) and not any("error" in r for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
