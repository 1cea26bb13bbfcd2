#!/usr/bin/env python3
"""Differential test: podwall's verdicts against IBM's network-config-analyzer (NCA).

For a fixed range of seeds (default 1..20, about a minute in all) this script

1. writes a small synthetic cluster with `podwall-bench gen` (8-40 pods, 2-5 namespaces,
   3-15 NetworkPolicies; the generator adds `monitoring` and `kube-system`), and a
   "mutated" copy of it with what the generator seldom makes at these sizes: ipBlocks over
   pod addresses, pods without status.podIP, a hostNetwork pod, named ports whose protocol
   does not match the pod's (see mutate()); each of the two is one compared cluster,
2. asks podwall for `matrix -o json` on every port some pod declares plus probe ports at the
   edges of the generator's port ranges (and UDP/SCTP ones),
3. asks NCA for its connectivity map of the same folder, entirely offline:
       nca --connectivity --resource_list DIR --output_format txt_no_fw_rules --file_out OUT
   One line per connected pair, `ns/a[Pod] => ns/b[Pod] : CONNECTIONS` (or an address range
   such as `10.1.0.8-10.1.255.255` on one side), where CONNECTIONS is `All connections`,
   cubes such as `{protocols:TCP,dst_ports:8000-9000},{protocols:UDP,dst_ports:53}`, or
   `All but <cubes>`; a pair may have several lines (unioned); an unlisted pair has no
   connection at all.  NCA answers for every protocol and port at once,
4. maps NCA's answer for (a, b) to a verdict for each (protocol, port) podwall was asked
   about -- allowed iff NCA's connection set holds that protocol and destination port -- and
   compares it with podwall's allowed[a][b]; then checks a sample of pod <-> outside-address
   pairs (an address from each of NCA's ranges that is no pod's) with `podwall check`,
5. sorts every disagreement into a class by finding the smallest change of model under
   which the two tools agree on that pair (CLASS_ORDER; FINDINGS.md has the details):

   nca-podselector-exists   NCA side: Exists/DoesNotExist in a peer's podSelector rewritten
                            as In/NotIn over all values (same pods) -> NCA agrees: NCA bug.
   hostnetwork-pod          podwall side: hostNetwork pods made ordinary -> agree.
   ipblock-pod-ip           podwall side: ipBlock peers removed (NCA never matches a pod
                            with an ipBlock) -> agree.
   ipblock-zero-matches-pod-without-ip
                            podwall side: 0.0.0.0/0 split in two /1 halves (same addresses,
                            but podwall matches an address-less pod only with a /0) -> agree.
   podwall-bug-zero-except-matches-pod-without-ip
                            as above for /0 blocks with `except` only: a podwall bug.
   combinations of these, and `unexplained` (the cluster fails).

   Pairs from a pod to itself are not compared: NCA's connectivity map always leaves out
   self-loops (ConnectivityGraph.get_connections_without_fw_rules_txt_format). The summary
   counts the self pairs podwall denies (upstream says a pod cannot block access to itself).

Calico mode (`--calico`; FINDINGS.md, "Calico mode"): each seed's cluster is written with
`podwall-bench gen --pods 30..60 --namespaces 3..6 --policies 2..10 --calico-policies 2..18`
and cut down to what NCA 2.1.0 parses (calico_for_nca): no Tier objects and no `spec.tier`
(NCA has no tiers: all policies land in one default tier with their own orders), no
`serviceAccounts` in entity rules (NCA rejects it; the generator's `names: [default]` holds
for every pod there), no admin.json (NCA has no AdminNetworkPolicy). Both tools read that
folder. Two clusters per seed: "flat" as transformed, and "no-pass" without the
Pass-everything `platform.pass-rest` (order 10000), which in one tier hands all traffic to
the allow-all profile and hides the Kubernetes policies and the unordered Calico policies.
Verdicts are compared as above; the outside addresses sampled also include one address of
each network-set CIDR. Classes (every combination of these changes, fewest first):

   nca-podselector-exists   as above (the clusters have Kubernetes NetworkPolicies too).
   nca-calico-no-projectcalico-name
                            NCA side: `projectcalico.org/name` in namespaceSelectors
                            rewritten as `kubernetes.io/metadata.name` (the same namespaces
                            in Calico; NCA's namespaces lack the first label) -> agree.
   nca-calico-notselector-all-namespaces
                            NCA side: `selector: all()` added next to a lone notSelector of a
                            namespaced policy (the same rule in Calico; NCA lets a lone
                            notSelector reach every namespace and outside address) -> agree.
   nca-calico-order-tie     NCA side: Calico policies listed by name (Calico breaks equal
                            orders by name, NCA by reading order) -> agree.
   ipblock-pod-ip           podwall side, as above (Calico matches pod IPs with ipBlocks).

Exit status: 0 when every disagreement is in an explained class (with --strict, known
podwall bugs count as failures), 1 otherwise, 2 when a tool cannot be run. The last line is
`N passed, M failed`, counting compared clusters.

podwall is target/release/podwall (built when missing) or --podwall; clusters come from
podwall-bench beside it. NCA is $NCA, `nca` on
PATH, or installed with pip into target/nca-venv when missing (`--no-install` turns that
off). `--resource_list DIR` never calls kubectl; KUBECONFIG points at a missing file anyway.
"""

import argparse
import copy
import ipaddress
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Ports checked besides the ones pods declare: edges of the generator's ranges
# (8000-8999, 9000-9100, 30000-32767/UDP, 8125/UDP) and ports no rule names.
PROBE_PORTS = [("TCP", 1), ("TCP", 8999), ("TCP", 9100), ("TCP", 9101), ("TCP", 443),
               ("UDP", 8125), ("UDP", 30000), ("UDP", 32767), ("UDP", 29999), ("SCTP", 8080)]

PROTO_NUM = {"TCP": 6, "UDP": 17, "SCTP": 132}

# How many (pod, outside address, direction, port) samples to check per cluster.
EXT_SAMPLES = 120



# ---------------------------------------------------------------- NCA output parsing

LINE_RE = re.compile(r"^(\S+?)(?:\[(\w+)\])? => (\S+?)(?:\[(\w+)\])? : (.*)$")
KEY_RE = re.compile(r"(?:^|,)(protocols|src_ports|dst_ports|icmp_type|icmp_code|methods|paths|hosts):")


def parse_intervals(text):
    """'80,8000-9000' -> [(80, 80), (8000, 9000)]"""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.append((int(lo), int(hi)))
        else:
            out.append((int(part), int(part)))
    return out


def parse_protocols(text):
    """NCA's ProtocolSet text: '*', 'TCP, UDP' or 'all but TCP, UDP'. Returns a predicate."""
    text = text.strip()
    if text == "*":
        return lambda p: True
    negate = False
    if text.startswith("all but "):
        negate = True
        text = text[len("all but "):]
    names = set()
    for name in text.split(","):
        name = name.strip()
        if not name:
            continue
        if name.isdigit() or "-" in name:
            for lo, hi in parse_intervals(name):
                names.update(range(lo, hi + 1))
        else:
            names.add(PROTO_NUM.get(name.upper(), name.upper()))
    return lambda p: (PROTO_NUM[p] in names) != negate


def parse_cube(cube):
    """'{protocols:TCP,dst_ports:8000-9000}' -> predicate(proto, port)."""
    body = cube.strip()
    assert body.startswith("{") and body.endswith("}"), cube
    body = body[1:-1]
    keys = list(KEY_RE.finditer(body))
    if not keys or keys[0].start() != 0:
        raise ValueError(f"cannot parse NCA cube {cube!r}")
    dims = {}
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(body)
        dims[m.group(1)] = body[m.end():end]
    unknown = set(dims) - {"protocols", "dst_ports", "src_ports"}
    if unknown:
        raise ValueError(f"NCA cube has dimensions podwall's model lacks: {cube!r}")
    proto_ok = parse_protocols(dims["protocols"]) if "protocols" in dims else (lambda p: True)
    ports = parse_intervals(dims["dst_ports"]) if "dst_ports" in dims else None
    src_ports = parse_intervals(dims["src_ports"]) if "src_ports" in dims else None
    if src_ports is not None and src_ports != [(0, 65535)] and src_ports != [(1, 65535)]:
        raise ValueError(f"NCA cube restricts source ports: {cube!r}")

    def pred(proto, port):
        if not proto_ok(proto):
            return False
        return ports is None or any(lo <= port <= hi for lo, hi in ports)
    return pred


def split_cubes(text):
    cubes, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                cubes.append(text[start:i + 1])
    return cubes


def parse_connections(text):
    """NCA connection-set text -> predicate(proto, port)."""
    text = text.strip()
    if text == "All connections":
        return lambda proto, port: True
    if text == "No connections":
        return lambda proto, port: False
    negate = False
    if text.startswith("All but "):
        negate = True
        text = text[len("All but "):]
    if not text.startswith("{"):
        # only destination ports are active: '80,443'
        ports = parse_intervals(text)
        base = lambda proto, port: any(lo <= port <= hi for lo, hi in ports)  # noqa: E731
    else:
        preds = [parse_cube(c) for c in split_cubes(text)]
        base = lambda proto, port: any(p(proto, port) for p in preds)  # noqa: E731
    if negate:
        return lambda proto, port: not base(proto, port)
    return base


def parse_nca_output(path):
    """-> {(src, dst): (text, predicate)} where src/dst is `ns/pod` or an IP range text
    (`10.1.0.0-10.1.0.6`, `10.1.0.7`); also the set of pod names seen."""
    conns, pods = {}, set()
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            m = LINE_RE.match(line)
            if not m:
                continue
            src, skind, dst, dkind, conn = m.groups()
            if skind:
                pods.add(src)
            if dkind:
                pods.add(dst)
            # lines with an IP range on one side are kept too, keyed by the range text
            # NCA may print several lines for one pair (e.g. one for TCP, one for UDP): union
            pred = parse_connections(conn)
            if (src, dst) in conns:
                old_text, old_pred = conns[(src, dst)]
                conns[(src, dst)] = (old_text + " | " + conn,
                                     lambda proto, port, a=old_pred, b=pred: a(proto, port) or b(proto, port))
            else:
                conns[(src, dst)] = (conn, pred)
    return conns, pods


# ---------------------------------------------------------------- running the tools

def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def find_podwall(path):
    if path:
        return path
    exe = os.path.join(ROOT, "target", "release", "podwall")
    if not (os.path.exists(exe) and os.path.exists(exe + "-bench")):
        print("building podwall and podwall-bench (cargo build --release -p podwall -p podwall-bench)", flush=True)
        r = subprocess.run(["cargo", "build", "--release", "-p", "podwall", "-p", "podwall-bench"], cwd=ROOT)
        if r.returncode != 0:
            sys.exit(2)
    return exe


def find_nca(install):
    if os.environ.get("NCA"):
        if not (os.path.exists(os.environ["NCA"]) or shutil.which(os.environ["NCA"])):
            print(f"$NCA={os.environ['NCA']} does not exist", file=sys.stderr)
            sys.exit(2)
        return os.environ["NCA"]
    exe = shutil.which("nca")
    if exe:
        return exe
    venv = os.path.join(ROOT, "target", "nca-venv")
    exe = os.path.join(venv, "bin", "nca")
    if os.path.exists(exe):
        return exe
    if not install:
        print("nca not found (pip install network-config-analyzer)", file=sys.stderr)
        sys.exit(2)
    print(f"installing network-config-analyzer into {venv}", flush=True)
    if subprocess.run([sys.executable, "-m", "venv", venv]).returncode != 0 or subprocess.run(
            [os.path.join(venv, "bin", "pip"), "install", "-q", "network-config-analyzer"]).returncode != 0:
        print("could not install network-config-analyzer", file=sys.stderr)
        sys.exit(2)
    return exe


def nca_env():
    env = dict(os.environ)
    env["KUBECONFIG"] = "/nonexistent/kubeconfig"
    return env


def run_nca(nca, folder, out):
    if os.path.exists(out):
        os.remove(out)  # NCA appends to --file_out
    r = run([nca, "--connectivity", "--resource_list", folder, "--output_format", "txt_no_fw_rules",
             "--file_out", out], env=nca_env(), cwd=os.path.dirname(out))
    if not os.path.exists(out):
        raise RuntimeError(f"nca wrote no output for {folder}: rc={r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def podwall_matrices(podwall, folder, extra_ports):
    r = run([podwall, "matrix", "-f", folder, "-o", "json"])
    if r.returncode != 0:
        raise RuntimeError(f"podwall matrix failed on {folder}: {r.stderr}")
    mats = json.loads(r.stdout)
    seen = {(m["protocol"], int(m["port"])) for m in mats}
    for proto, port in extra_ports:
        if (proto, port) in seen:
            continue
        mats.append(podwall_matrix(podwall, folder, proto, port))
    return mats


def podwall_matrix(podwall, folder, proto, port):
    r = run([podwall, "matrix", "-f", folder, "--port", str(port), "--protocol", proto, "-o", "json"])
    if r.returncode != 0:
        raise RuntimeError(f"podwall matrix --port {port} failed on {folder}: {r.stderr}")
    return json.loads(r.stdout)


# ---------------------------------------------------------------- cluster folders

def load_folder(folder):
    docs = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as fh:
            docs[name] = json.load(fh)
    return docs


def save_folder(docs, folder):
    os.makedirs(folder, exist_ok=True)
    for name, doc in docs.items():
        with open(os.path.join(folder, name), "w") as fh:
            json.dump(doc, fh)


def items(docs, kind=None):
    for doc in docs.values():
        for item in doc.get("items", []):
            if kind is None or item.get("kind") == kind:
                yield item


def rule_peers(policy):
    spec = policy.get("spec", {})
    for direction, key in (("ingress", "from"), ("egress", "to")):
        for rule in spec.get(direction) or []:
            yield direction, key, rule


# ---------------------------------------------------------------- mutations

def mutate(docs, seed):
    """Add, deterministically per seed, the shapes the generator seldom makes at small sizes:
    ipBlocks that cover pod addresses (ingress from 10.1.0.0/16 with an `except` of one pod and
    from 0.0.0.0/0 on 9090, egress to one pod's /32 and to 0.0.0.0/0 minus 10/8), pods without status.podIP, a hostNetwork pod with a node
    address, and named ports whose protocol does not match the pod's declaration."""
    rng = random.Random(seed * 7919 + 17)
    docs = copy.deepcopy(docs)
    pods = [p for p in items(docs, "Pod") if p["metadata"]["namespace"].startswith("ns-")]
    if len(pods) < 4:
        return docs, []
    notes = []
    extra = []

    def labels(p):
        return p["metadata"].get("labels") or {}

    def declared(p):
        return [port for c in p["spec"]["containers"] for port in c.get("ports") or []]

    target, excluded, src, dst = rng.sample(pods, 4)
    tns = target["metadata"]["namespace"]
    extra.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "diff-ipblock-ingress", "namespace": tns},
                  "spec": {"podSelector": {"matchLabels": {"app": labels(target)["app"]}},
                           "policyTypes": ["Ingress"],
                           "ingress": [{"from": [{"ipBlock": {
                               "cidr": "10.1.0.0/16",
                               "except": [excluded["status"]["podIP"] + "/32"]}}]},
                                       {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                        "ports": [{"port": 9090, "protocol": "TCP"}]}]}})
    dst_ports = [pp for pp in declared(dst) if pp.get("protocol", "TCP") == "TCP"]
    egress = [{"to": [{"ipBlock": {"cidr": dst["status"]["podIP"] + "/32"}}],
               "ports": [{"port": dst_ports[0]["containerPort"], "protocol": "TCP"}] if dst_ports else []},
              {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]},
              {"to": [{"namespaceSelector": {}}],
               "ports": [{"port": "dns", "protocol": "TCP"}, {"port": "dns", "protocol": "UDP"},
                         {"port": "metrics", "protocol": "UDP"}, {"protocol": "SCTP"}]}]
    if not egress[0]["ports"]:
        del egress[0]["ports"]
    sns = src["metadata"]["namespace"]
    extra.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "diff-ipblock-egress", "namespace": sns},
                  "spec": {"podSelector": {"matchLabels": {"app": labels(src)["app"]}},
                           "policyTypes": ["Egress"], "egress": egress}})
    notes.append(f"ipBlock ingress to app={labels(target)['app']} in {tns} except {excluded['status']['podIP']}; "
                 f"ipBlock egress from app={labels(src)['app']} in {sns} to {dst['status']['podIP']}")

    rest = [p for p in pods if p not in (target, excluded, src, dst)] or pods
    for p in rng.sample(rest, min(2, len(rest))):
        p["status"].pop("podIP", None)
        p["status"].pop("podIPs", None)
        p["status"]["phase"] = "Pending"
        notes.append(f"no podIP: {p['metadata']['namespace']}/{p['metadata']['name']}")
    host = rng.choice(pods)
    host["spec"]["hostNetwork"] = True
    host["status"]["podIP"] = "192.168.100.%d" % rng.randint(1, 250)
    host["status"]["podIPs"] = [{"ip": host["status"]["podIP"]}]
    host["status"]["phase"] = "Running"
    notes.append(f"hostNetwork: {host['metadata']['namespace']}/{host['metadata']['name']} at {host['status']['podIP']}")
    docs["zz-differential-mutations.json"] = {"apiVersion": "v1", "kind": "List",
                                              "metadata": {"resourceVersion": ""}, "items": extra}
    return docs, notes


# ---------------------------------------------------------------- variants used to classify

def variant_no_ipblocks(docs):
    """podwall variant: ipBlock peers never match pods (NCA's model). Every ipBlock peer is
    removed; a rule whose peers were all ipBlocks is dropped (an empty peer list would mean
    'everyone'), which leaves the policy isolating as before."""
    docs = copy.deepcopy(docs)
    for pol in items(docs, "NetworkPolicy"):
        spec = pol.get("spec", {})
        for direction, key in (("ingress", "from"), ("egress", "to")):
            if not spec.get(direction):
                continue
            kept = []
            for rule in spec[direction]:
                peers = rule.get(key)
                if peers is None:
                    kept.append(rule)
                    continue
                left = [p for p in peers if "ipBlock" not in p]
                if left:
                    rule[key] = left
                    kept.append(rule)
            spec[direction] = kept
    return docs


def variant_split_zero(docs, only_with_except):
    """podwall variant: every ipBlock `0.0.0.0/0` (only those with `except` entries, or all)
    becomes the two halves 0.0.0.0/1 and 128.0.0.0/1, each with the excepts inside it. The
    same addresses; but podwall matches a pod without an address only with a /0 block, so on
    this variant a pod without status.podIP is no longer matched by those blocks."""
    docs = copy.deepcopy(docs)
    for pol in items(docs, "NetworkPolicy"):
        for _, key, rule in rule_peers(pol):
            peers = rule.get(key)
            if not peers:
                continue
            out = []
            for peer in peers:
                blk = peer.get("ipBlock")
                if blk and blk.get("cidr") == "0.0.0.0/0" and (blk.get("except") or not only_with_except):
                    exc_all = blk.get("except") or []
                    low = [e for e in exc_all if int(e.split(".")[0]) < 128]
                    high = [e for e in exc_all if int(e.split(".")[0]) >= 128]
                    for cidr, exc in (("0.0.0.0/1", low), ("128.0.0.0/1", high)):
                        b = {"cidr": cidr}
                        if exc:
                            b["except"] = exc
                        out.append({"ipBlock": b})
                else:
                    out.append(peer)
            rule[key] = out
    return docs


def has_zero_block(docs, with_except):
    return any((peer.get("ipBlock") or {}).get("cidr") == "0.0.0.0/0"
               and (bool(peer["ipBlock"].get("except")) or not with_except)
               for pol in items(docs, "NetworkPolicy") for _, key, rule in rule_peers(pol)
               for peer in rule.get(key) or [])


def variant_no_hostnetwork(docs):
    """podwall variant: hostNetwork pods are ordinary policy endpoints (NCA's model)."""
    docs = copy.deepcopy(docs)
    for p in items(docs, "Pod"):
        p["spec"].pop("hostNetwork", None)
    return docs


def variant_exists_as_in(docs):
    """NCA variant: each Exists/DoesNotExist requirement of a rule peer's podSelector becomes
    In/NotIn over every value that key has on a pod of the cluster -- the same pods, in a form
    NCA evaluates across namespaces (it evaluates Exists/DoesNotExist only in the policy's own
    namespace)."""
    docs = copy.deepcopy(docs)
    values = defaultdict(set)
    for p in items(docs, "Pod"):
        for k, v in (p["metadata"].get("labels") or {}).items():
            values[k].add(v)
    for pol in items(docs, "NetworkPolicy"):
        for _, key, rule in rule_peers(pol):
            for peer in rule.get(key) or []:
                for req in (peer.get("podSelector") or {}).get("matchExpressions") or []:
                    if req["operator"] in ("Exists", "DoesNotExist"):
                        req["values"] = sorted(values.get(req["key"], ())) or ["no-pod-has-this-value"]
                        req["operator"] = "In" if req["operator"] == "Exists" else "NotIn"
    return docs


def has_exists_peer(docs):
    return any(req["operator"] in ("Exists", "DoesNotExist")
               for pol in items(docs, "NetworkPolicy") for _, key, rule in rule_peers(pol)
               for peer in rule.get(key) or []
               for req in (peer.get("podSelector") or {}).get("matchExpressions") or [])


def has_ipblock(docs):
    return any("ipBlock" in peer for pol in items(docs, "NetworkPolicy")
               for _, key, rule in rule_peers(pol) for peer in rule.get(key) or [])


def has_hostnetwork(docs):
    return any(p["spec"].get("hostNetwork") for p in items(docs, "Pod"))


# ---------------------------------------------------------------- Calico mode

CALICO_API = "projectcalico.org/v3"
CALICO_POLICY_KINDS = ("NetworkPolicy", "GlobalNetworkPolicy")
# Extra probe ports in Calico mode: DNS (allow-dns), HTTPS (partners, corp egress).
CALICO_PROBE_PORTS = PROBE_PORTS + [("UDP", 53), ("TCP", 53), ("TCP", 9090)]
# The generator's tier closer: a Pass-everything policy at order 10000 (see calico_for_nca).
PASS_REST = "platform.pass-rest"


def calico_policies(docs):
    for item in items(docs):
        if item.get("apiVersion") == CALICO_API and item.get("kind") in CALICO_POLICY_KINDS:
            yield item


def calico_entities(pol):
    """(policy, direction, rule, side, entity rule) for every source/destination of a rule."""
    for direction in ("ingress", "egress"):
        for rule in pol.get("spec", {}).get(direction) or []:
            for side in ("source", "destination"):
                if isinstance(rule.get(side), dict):
                    yield direction, rule, side, rule[side]


def calico_for_nca(docs, drop_pass_rest):
    """The transformation both tools are given in Calico mode: what `bench gen` writes, cut
    down to what NCA 2.1.0 parses (every change is checked or documented in FINDINGS.md):
    - Tier objects are dropped and so is every policy's `spec.tier`: NCA has no tiers (its
      CalicoPolicyYamlParser rejects `tier` as "not a valid entry"), so every policy lands in
      the default tier with its own order (Pass then means "to the profile": allow);
    - `serviceAccounts` in entity rules is dropped: NCA rejects it ("not yet supported").
      The generator only writes `names: [default]`, and its pods have no serviceAccountName
      (so they run as `default`): the match held for every pod, and the selector next to it
      already excludes network sets, so the rule selects the same pods without it;
    - admin.json (AdminNetworkPolicies, the baseline) is dropped: NCA has no such kinds;
    - with drop_pass_rest, `platform.pass-rest` (Pass everything, order 10000) is dropped
      too. In one flat tier it sends every pod's traffic to the allow-all profile at order
      10000, which hides the Kubernetes isolation and every Calico policy without an order;
      without it those are reached."""
    docs = copy.deepcopy(docs)
    docs.pop("admin.json", None)
    for pod in items(docs, "Pod"):
        sa = pod["spec"].get("serviceAccountName") or pod["spec"].get("serviceAccount")
        if sa not in (None, "default"):
            raise RuntimeError(f"pod with service account {sa}: dropping serviceAccounts would change the model")
    for name, doc in docs.items():
        kept = []
        for item in doc.get("items", []):
            if item.get("apiVersion") == CALICO_API and item.get("kind") == "Tier":
                continue
            if item.get("apiVersion") == CALICO_API and item.get("kind") in CALICO_POLICY_KINDS:
                if drop_pass_rest and item["metadata"]["name"] == PASS_REST:
                    continue
                item["spec"].pop("tier", None)
                for _, _, _, ent in calico_entities(item):
                    sas = ent.pop("serviceAccounts", None)
                    if sas is not None and (set(sas) != {"names"} or sas["names"] != ["default"]):
                        raise RuntimeError(f"serviceAccounts {sas} in {item['metadata']['name']}")
            kept.append(item)
        doc["items"] = kept
    return docs


def variant_pcname(docs):
    """NCA variant: `projectcalico.org/name` in namespaceSelectors (policy and entity rule)
    becomes `kubernetes.io/metadata.name`. Calico gives every namespace both labels with the
    namespace's name, so the same namespaces; NCA's namespaces have only the second
    (K8sNamespace.__init__), so the first selects nothing there."""
    docs = copy.deepcopy(docs)
    for pol in calico_policies(docs):
        spec = pol["spec"]
        if "namespaceSelector" in spec:
            spec["namespaceSelector"] = spec["namespaceSelector"].replace(
                "projectcalico.org/name", "kubernetes.io/metadata.name")
        for _, _, _, ent in calico_entities(pol):
            if "namespaceSelector" in ent:
                ent["namespaceSelector"] = ent["namespaceSelector"].replace(
                    "projectcalico.org/name", "kubernetes.io/metadata.name")
    return docs


def has_pcname(docs):
    return any("projectcalico.org/name" in json.dumps(pol["spec"]) for pol in calico_policies(docs))


def lone_notselector_entities(docs):
    """Entity rules of namespaced Calico NetworkPolicies with a notSelector but neither a
    selector nor a namespaceSelector (nor nets)."""
    for pol in calico_policies(docs):
        if pol["kind"] != "NetworkPolicy":
            continue
        for _, _, _, ent in calico_entities(pol):
            if "notSelector" in ent and not any(k in ent for k in ("selector", "namespaceSelector",
                                                                   "nets", "notNets")):
                yield ent


def variant_notselector_scoped(docs):
    """NCA variant: `selector: all()` is added next to a lone notSelector in a namespaced
    policy. For Calico the two are the same entity rule (a notSelector alone already limits
    the rule to the policy's namespace: GetEntityRuleSelector ANDs the namespace part in when
    any of selector/notSelector/namespaceSelector/serviceAccounts is set); NCA's
    CalicoPolicyYamlParser._get_rule_peers starts a lone notSelector from every peer of every
    namespace and every outside address, and limits it to the namespace only with a selector."""
    docs = copy.deepcopy(docs)
    for ent in lone_notselector_entities(docs):
        ent["selector"] = "all()"
    return docs


def variant_order_ties(docs):
    """NCA variant: Calico policies are listed in the order of their names. Calico breaks a
    tie of orders by policy name; NCA keeps tied policies in the order it read them
    (NetworkLayer.add_policy: bisect.insort on NetworkPolicy.__lt__, which compares orders
    only), so with the items sorted by name it breaks ties as Calico does. (Giving the tied
    policies distinct fractional orders would say the same, but NCA 2.1.0 fails on float
    orders: "'<' not supported between instances of 'int' and 'str'".)"""
    docs = copy.deepcopy(docs)
    for doc in docs.values():
        pols = [i for i in doc.get("items", [])
                if i.get("apiVersion") == CALICO_API and i.get("kind") in CALICO_POLICY_KINDS]
        if len(pols) < 2:
            continue
        others = [i for i in doc["items"] if not any(i is p for p in pols)]
        doc["items"] = others + sorted(pols, key=lambda x: x["metadata"]["name"])
    return docs


def has_order_ties(docs):
    orders = [pol["spec"].get("order") for pol in calico_policies(docs)]
    orders = [o for o in orders if o is not None]
    return len(orders) != len(set(orders))


CALICO_VARIANTS = {"pcname": (variant_pcname, has_pcname),
                   "notsel": (variant_notselector_scoped, lambda d: any(lone_notselector_entities(d))),
                   "ties": (variant_order_ties, has_order_ties)}

# Classes of the Calico mode: every combination of these changes, fewest first (see
# FINDINGS.md, "Calico mode"); (side, change, class name), side "P" = podwall, "N" = NCA.
# Two come from the Kubernetes mode, because the clusters have Kubernetes NetworkPolicies too.
CALICO_CHANGES = [("N", "exists", "nca-podselector-exists"),
                  ("N", "pcname", "nca-calico-no-projectcalico-name"),
                  ("N", "notsel", "nca-calico-notselector-all-namespaces"),
                  ("N", "ties", "nca-calico-order-tie"),
                  ("P", "ipblock", "ipblock-pod-ip")]
CALICO_CLASS_ORDER = [
    ("+".join(name for _, _, name in combo),
     tuple(change for side, change, _ in combo if side == "P"),
     tuple(change for side, change, _ in combo if side == "N"))
    for n in range(1, len(CALICO_CHANGES) + 1) for combo in itertools.combinations(CALICO_CHANGES, n)]


def calico_sizes_for(seed):
    pods = 30 + (seed * 7) % 31          # 30..60
    namespaces = 3 + seed % 4            # 3..6
    policies = 2 + (seed * 5) % 9        # 2..10
    calico = 2 + (seed * 3) % 17         # 2..18 (the first six are the fixed global ones)
    return pods, namespaces, policies, calico


# ---------------------------------------------------------------- one cluster

# Order matters: the first (smallest) set of model changes that makes the two tools agree on a
# pair names the pair's class.  P = podwall-side change, N = NCA-side change.
CLASS_ORDER = [
    ("nca-podselector-exists", (), ("exists",)),
    ("podwall-bug-zero-except-matches-pod-without-ip", ("split0",), ()),
    ("ipblock-zero-matches-pod-without-ip", ("split0all",), ()),
    ("hostnetwork-pod", ("hostnet",), ()),
    ("ipblock-pod-ip", ("ipblock",), ()),
    ("hostnetwork-pod+ipblock-pod-ip", ("hostnet", "ipblock"), ()),
    ("nca-podselector-exists+ipblock-pod-ip", ("ipblock",), ("exists",)),
    ("nca-podselector-exists+hostnetwork-pod", ("hostnet",), ("exists",)),
    ("nca-podselector-exists+hostnetwork-pod+ipblock-pod-ip", ("hostnet", "ipblock"), ("exists",)),
]
EXPLAINED = {c[0] for c in CLASS_ORDER} | {c[0] for c in CALICO_CLASS_ORDER}
# Explained, documented in FINDINGS.md, but a podwall bug: --strict fails on these.
KNOWN_PODWALL_BUGS = {"podwall-bug-zero-except-matches-pod-without-ip"}


class Cluster:
    """One cluster folder and lazily computed verdicts of both tools on it and its variants."""

    def __init__(self, podwall, nca, docs, folder, class_order=None, probe_ports=None):
        self.podwall, self.nca, self.docs, self.folder = podwall, nca, docs, folder
        self.class_order = class_order or CLASS_ORDER
        self.probe_ports = probe_ports or PROBE_PORTS
        save_folder(docs, folder)
        self._pw_variants = {}
        self._nca_variants = {}
        self.no_ip = {f"{p['metadata']['namespace']}/{p['metadata']['name']}"
                      for p in items(docs, "Pod") if not (p.get("status") or {}).get("podIP")}

    def extra_addresses(self):
        """Outside addresses sampled besides NCA's ranges: in Calico mode, the first address
        of each IPv4 network-set CIDR and the metadata address (NCA prints no range at all
        when no pod reaches or is reached from outside)."""
        out = []
        for item in items(self.docs):
            if item.get("apiVersion") == CALICO_API and item.get("kind") in ("NetworkSet", "GlobalNetworkSet"):
                for cidr in item["spec"].get("nets") or []:
                    net = ipaddress.ip_network(cidr, strict=False)
                    if net.version == 4:
                        out.append(str(net[1] if net.num_addresses > 2 else net[0]))
        return out + ["169.254.169.254", "8.8.8.8"] if out else []

    def pw_variant(self, changes):
        key = tuple(sorted(changes))
        if key not in self._pw_variants:
            docs = self.docs
            if "hostnet" in key:
                docs = variant_no_hostnetwork(docs)
            if "split0" in key or "split0all" in key:
                docs = variant_split_zero(docs, "split0all" not in key)
            if "ipblock" in key:
                docs = variant_no_ipblocks(docs)
            folder = f"{self.folder}-pw-{'-'.join(key)}"
            save_folder(docs, folder)
            self._pw_variants[key] = (folder, {})
        return self._pw_variants[key]

    def pw_verdict(self, changes, src, dst, proto, port):
        folder, mats = self.pw_variant(changes)
        if (proto, port) not in mats:
            m = podwall_matrix(self.podwall, folder, proto, port)
            mats[(proto, port)] = ({n: i for i, n in enumerate(m["pods"])}, m["allowed"])
        index, allowed = mats[(proto, port)]
        return bool(allowed[index[src]][index[dst]])

    def nca_conns(self, changes):
        key = tuple(sorted(changes))
        if key not in self._nca_variants:
            docs = self.docs
            if "exists" in key:
                docs = variant_exists_as_in(docs)
            for change in key:
                if change in CALICO_VARIANTS:
                    docs = CALICO_VARIANTS[change][0](docs)
            folder = f"{self.folder}-nca-{'-'.join(key)}" if key else self.folder
            if key:
                save_folder(docs, folder)
            out = folder + ".nca.txt"
            run_nca(self.nca, folder, out)
            self._nca_variants[key] = parse_nca_output(out)
        return self._nca_variants[key]

    def nca_verdict(self, changes, src, dst, proto, port):
        conns, _ = self.nca_conns(changes)
        return nca_allows(conns, src, dst, proto, port)

    def applicable(self, pw_changes, nca_changes):
        if "hostnet" in pw_changes and not has_hostnetwork(self.docs):
            return False
        if "ipblock" in pw_changes and not has_ipblock(self.docs):
            return False
        if "split0" in pw_changes and not (self.no_ip and has_zero_block(self.docs, True)):
            return False
        if "split0all" in pw_changes and not (self.no_ip and has_zero_block(self.docs, False)):
            return False
        if "exists" in nca_changes and not has_exists_peer(self.docs):
            return False
        if any(c in CALICO_VARIANTS and not CALICO_VARIANTS[c][1](self.docs) for c in nca_changes):
            return False
        return True

    def pw_check(self, changes, src, dst, proto, port):
        """podwall check on (a variant of) the cluster; src/dst are pods or IP addresses."""
        folder = self.pw_variant(changes)[0] if changes else self.folder
        r = run([self.podwall, "check", "-f", folder, "--from", src, "--to", dst,
                 "--port", str(port), "--protocol", proto])
        if r.returncode not in (0, 1):
            raise RuntimeError(f"podwall check failed: {r.stderr.strip()}")
        return r.returncode == 0

    def classify(self, src, dst, proto, port, ext=False):
        """ext: one side is an outside IP address (podwall is asked with `check`)."""
        for name, pw_changes, nca_changes in self.class_order:
            if not self.applicable(pw_changes, nca_changes):
                continue
            if ext:
                pw = self.pw_check(pw_changes, src, dst, proto, port)
            else:
                pw = self.pw_verdict(pw_changes, src, dst, proto, port)
            nc = self.nca_verdict(nca_changes, src, dst, proto, port)
            if pw == nc:
                return name
        return "unexplained"


def sizes_for(seed):
    pods = 8 + (seed * 7) % 33           # 8..40
    namespaces = 2 + seed % 4            # 2..5
    policies = 3 + (seed * 5) % 13       # 3..15
    return pods, namespaces, policies


def compare(cluster, label):
    mats = podwall_matrices(cluster.podwall, cluster.folder, cluster.probe_ports)
    conns, nca_pods = cluster.nca_conns(())
    pw_pods = set(mats[0]["pods"]) if mats else set()
    stats = Counter()
    classes = Counter()
    classified = []
    self_denied = []
    for m in mats:
        proto, port = m["protocol"], int(m["port"])
        names = m["pods"]
        for i, src in enumerate(names):
            row = m["allowed"][i]
            for j, dst in enumerate(names):
                pw = bool(row[j])
                if i == j:
                    stats["self"] += 1
                    if not pw:
                        self_denied.append((src, proto, port))
                    continue
                entry = conns.get((src, dst))
                nc = entry[1](proto, port) if entry else False
                stats["compared"] += 1
                if pw == nc:
                    stats["agree"] += 1
                    continue
                cls = cluster.classify(src, dst, proto, port)
                classes[cls] += 1
                classified.append((cls, (src, dst, proto, port, pw, nc, entry[0] if entry else "(no line)")))
    # pod <-> outside address: a sample of (pod, NCA address range, direction, port); the
    # address is one end of the range that is no pod's (so podwall sees an outside address)
    taken = {(p.get("status") or {}).get("podIP") for p in items(cluster.docs, "Pod")}
    ranges = sorted({k for pair in conns for k in pair if "/" not in k} | set(cluster.extra_addresses()))
    ext_stats = Counter()
    rng = random.Random(len(pw_pods) * 1009 + len(ranges))
    # (when NCA prints no line at all, as for a cluster where every pod is isolated, its pods
    # are podwall's)
    pods = sorted(pw_pods & nca_pods) or sorted(pw_pods)
    ports = [(m["protocol"], int(m["port"])) for m in mats]
    for _ in range(EXT_SAMPLES if ranges and pods else 0):
        rtext = rng.choice(ranges)
        ip = next((a for a in range_ends(rtext) if a not in taken), None)
        if ip is None:
            continue
        pod = rng.choice(pods)
        proto, port = rng.choice(ports)
        a, b = (pod, ip) if rng.random() < 0.5 else (ip, pod)
        pw = cluster.pw_check((), a, b, proto, port)
        nc = nca_allows(conns, a, b, proto, port)
        ext_stats["compared"] += 1
        if pw == nc:
            ext_stats["agree"] += 1
            continue
        cls = cluster.classify(a, b, proto, port, ext=True)
        classes[cls] += 1
        texts = [f"{t} [{k[0] if k[1] == pod else k[1]}]" for k, (t, _) in conns.items()
                 if pod in k and (ip in k or not is_pod_name(k[0]) or not is_pod_name(k[1]))
                 and in_range_text(ip, k[0] if k[1] == pod else k[1])]
        classified.append((cls, (a, b, proto, port, pw, nc, "; ".join(texts) or "(no line)")))
    return {"label": label, "ports": len(mats), "stats": stats, "ext_stats": ext_stats,
            "classes": classes, "classified": classified, "self_denied": self_denied,
            "only_nca": sorted(nca_pods - pw_pods), "pods": len(pw_pods)}


def in_range_text(ip, text):
    addr = ipaddress.ip_address(ip)
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        lo = ipaddress.ip_address(lo)
        # NCA prints IPv6 ranges too (network sets with IPv6 CIDRs); never compare across families
        if lo.version == addr.version and lo <= addr <= ipaddress.ip_address(hi or str(lo)):
            return True
    return False


def is_pod_name(name):
    return "/" in name


def nca_allows(conns, src, dst, proto, port):
    """NCA's verdict; src/dst are `ns/pod` names or single IP addresses (NCA prints address
    ranges, cut differently per line, so an address is looked up in every range)."""
    if is_pod_name(src) and is_pod_name(dst):
        entry = conns.get((src, dst))
        return entry[1](proto, port) if entry else False
    for (a, b), (_, pred) in conns.items():
        if is_pod_name(src):
            ok = a == src and not is_pod_name(b) and in_range_text(dst, b)
        else:
            ok = b == dst and not is_pod_name(a) and in_range_text(src, a)
        if ok and pred(proto, port):
            return True
    return False


def range_ends(text):
    """'10.1.0.0-10.1.0.6' -> ['10.1.0.0', '10.1.0.6', '10.1.0.3']; '10.1.0.7' -> ['10.1.0.7']"""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        a = int(ipaddress.ip_address(lo))
        b = int(ipaddress.ip_address(hi or lo))
        out += [str(ipaddress.ip_address(x)) for x in dict.fromkeys((a, b, (a + b) // 2))]
    return out


def fmt_pair(d):
    src, dst, proto, port, pw, nc, text = d
    return (f"{src} -> {dst} {proto}/{port}: podwall {'allow' if pw else 'deny'}, "
            f"NCA {'allow' if nc else 'deny'} (NCA line: {text})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--no-mutations", action="store_true", help="compare only the generated clusters")
    ap.add_argument("--podwall", help="podwall binary (default target/release/podwall, built if missing)")
    ap.add_argument("--keep", help="keep the clusters and NCA outputs in this folder")
    ap.add_argument("--no-install", action="store_true", help="do not pip-install NCA when it is missing")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every disagreement")
    ap.add_argument("--calico", action="store_true",
                    help="Calico mode: clusters with Calico policies (transformed for NCA, see calico_for_nca)")
    ap.add_argument("--strict", action="store_true",
                    help="also fail on disagreements that are known podwall bugs (see FINDINGS.md)")
    args = ap.parse_args()
    explained = EXPLAINED - KNOWN_PODWALL_BUGS if args.strict else EXPLAINED

    podwall = find_podwall(args.podwall)
    nca = find_nca(not args.no_install)
    work = args.keep or tempfile.mkdtemp(prefix="podwall-nca-")
    os.makedirs(work, exist_ok=True)

    t0 = time.time()
    passed = failed = 0
    totals = Counter()
    ext_totals = Counter()
    class_totals = Counter()
    examples = {}
    self_denied_total = 0
    self_example = None
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if args.calico:
            pods_n, ns_n, pol_n, cal_n = calico_sizes_for(seed)
        else:
            (pods_n, ns_n, pol_n), cal_n = sizes_for(seed), 0
        gen = os.path.join(work, f"gen-{seed}")
        r = run([podwall + "-bench", "gen", "--pods", str(pods_n), "--namespaces", str(ns_n),
                 "--policies", str(pol_n), "--calico-policies", str(cal_n), "--seed", str(seed), "-o", gen])
        if r.returncode != 0:
            print(f"seed {seed}: ERROR podwall-bench gen: {r.stderr.strip()}")
            failed += 1
            continue
        docs = load_folder(gen)
        if args.calico:
            # both tools read the transformed folder; "flat" keeps the Pass-everything
            # policy at order 10000, "no-pass" drops it (see calico_for_nca)
            try:
                runs = [("flat", calico_for_nca(docs, False), []),
                        ("no-pass", calico_for_nca(docs, True), [])]
            except RuntimeError as exc:
                print(f"seed {seed}: ERROR cannot transform for NCA: {exc}")
                failed += 1
                continue
            if not any(p["metadata"]["name"] == PASS_REST for p in calico_policies(docs)):
                runs = runs[:1]
            class_order, probes = CALICO_CLASS_ORDER, CALICO_PROBE_PORTS
        else:
            runs = [("generated", docs, [])]
            if not args.no_mutations:
                mdocs, notes = mutate(docs, seed)
                if notes:
                    runs.append(("mutated", mdocs, notes))
            class_order, probes = CLASS_ORDER, PROBE_PORTS
        for label, cdocs, notes in runs:
            name = f"seed {seed:3d} {label:9s}"
            try:
                cluster = Cluster(podwall, nca, cdocs, os.path.join(work, f"seed-{seed}-{label}"),
                                  class_order, probes)
                res = compare(cluster, label)
            except Exception as exc:  # a tool failed or printed something unreadable
                print(f"{name}: ERROR {exc}")
                failed += 1
                continue
            s = res["stats"]
            totals.update(s)
            class_totals.update(res["classes"])
            for cls, d in res["classified"]:
                examples.setdefault(cls, (seed, label, d))
            self_denied_total += len(res["self_denied"])
            if res["self_denied"] and self_example is None:
                self_example = (seed, label, res["self_denied"][0])
            bad = [d for cls, d in res["classified"] if cls not in explained]
            cls_txt = ", ".join(f"{c}={v}" for c, v in sorted(res["classes"].items())) or "none"
            e = res["ext_stats"]
            ext_totals.update(e)
            pol_txt = f"{pol_n:2d}+{cal_n:2d}" if args.calico else f"{pol_n:2d}+"
            print(f"{name}: {res['pods']:2d} pods {ns_n} ns {pol_txt} policies {res['ports']:2d} ports: "
                  f"{s['compared']:6d} pod pairs {s['agree']:6d} agree, {e['compared']:3d} pod/IP "
                  f"{e['agree']:3d} agree; disagreements: {cls_txt}"
                  f"{'  FAIL' if bad else ''}")
            if args.verbose:
                for note in notes:
                    print(f"      mutation: {note}")
            if res["only_nca"]:
                print(f"      pods only NCA has (LiveSim additions, not compared): {', '.join(res['only_nca'])}")
            shown = res["classified"] if args.verbose else \
                [(c, d) for c, d in res["classified"] if c not in explained][:20]
            for cls, d in shown:
                print(f"      [{cls}] " + fmt_pair(d))
            if bad:
                failed += 1
            else:
                passed += 1

    print()
    print(f"pod pairs compared: {totals['compared']}, agree: {totals['agree']}, "
          f"disagree: {totals['compared'] - totals['agree']}")
    print(f"pod/outside-address samples compared: {ext_totals['compared']}, agree: {ext_totals['agree']}, "
          f"disagree: {ext_totals['compared'] - ext_totals['agree']}")
    for cls, v in sorted(class_totals.items()):
        seed, label, d = examples[cls]
        tag = " (NOT EXPLAINED)" if cls not in EXPLAINED else \
            " (known podwall bug, FINDINGS.md)" if cls in KNOWN_PODWALL_BUGS else ""
        print(f"  {cls}{tag}: {v}, "
              f"e.g. seed {seed} {label}: {fmt_pair(d)}")
    print(f"self pairs (not compared, NCA omits them): {totals['self']}; podwall denies {self_denied_total}"
          + (f", e.g. seed {self_example[0]} {self_example[1]}: {self_example[2][0]} -> itself "
             f"{self_example[2][1]}/{self_example[2][2]}" if self_example else ""))
    print(f"time: {time.time() - t0:.1f}s; clusters in {work}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
