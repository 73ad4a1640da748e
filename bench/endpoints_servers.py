#!/usr/bin/env python3
"""Loopback endpoints for bench/endpoints.sh, and the inputs and summary of that benchmark.

    endpoints_servers.py serve CERT_DIR COUNT READY_FILE
        One process, COUNT TLS listeners on 127.0.0.1 (ports chosen by the kernel), each with its
        own SSLContext from CONFIGS x CERTS. A selector thread accepts on every listener; each
        connection gets a thread (the ssl module releases the GIL during handshakes) that completes
        the handshake, answers one HTTP request (HEAD or GET /, with Strict-Transport-Security when
        the configuration has one) and closes. Once every listener is bound, READY_FILE is written
        (JSON: port, configuration, certificate of each endpoint). Runs until SIGTERM or SIGINT.
    endpoints_servers.py free-ports N
        N TCP ports free on 127.0.0.1 now, one a line (for the sshd configurations).
    endpoints_servers.py inputs READY_FILE SSH_PORTS_FILE OUT_DIR COPIES
        The tools' target lists: vigil inventories tls-200.yaml (one entry per listener),
        tls-big.yaml (COPIES entries per listener, each with its own name) and ssh.yaml; sslyze's
        sslyze-targets.txt and ssh-audit's ssh-audit-targets.txt.
    endpoints_servers.py summary OUT_DIR
        The Markdown tables of bench/endpoints.sh, from OUT_DIR's hyperfine JSON, GNU time output
        and tool outputs.

Standard library only.
"""

import json
import os
import selectors
import signal
import socket
import ssl
import sys
import threading
import warnings

DOMAIN = "vigil.test"  # the certificates hold DNS:*.vigil.test (a reserved top-level domain)

# name -> settings of one server configuration. Versions are (minimum, maximum); reneg: "client"
# honours client-initiated renegotiation (OpenSSL 3 refuses it unless told), False refuses any
# renegotiation, True leaves OpenSSL's default (server-initiated only).
CONFIGS = {
    # Mozilla "modern"-like: TLS 1.2 and 1.3, ECDHE with AEAD only, HSTS with includeSubDomains.
    "modern": dict(versions=("TLSv1_2", "TLSv1_3"), ciphers="ECDHE+AESGCM:ECDHE+CHACHA20",
                   hsts="max-age=63072000; includeSubDomains", reneg=False),
    # Mozilla "intermediate"-like: adds DHE (ffdhe2048) suites.
    "intermediate": dict(versions=("TLSv1_2", "TLSv1_3"),
                         ciphers="ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20",
                         dh=True, hsts="max-age=31536000", reneg=True),
    # TLS 1.3 only, a short HSTS max-age.
    "tls13-only": dict(versions=("TLSv1_3", "TLSv1_3"), ciphers=None, hsts="max-age=300", reneg=False),
    # TLS 1.2 only, CBC and RSA key transport next to ECDHE, the client's order, no HSTS.
    "tls12-only": dict(versions=("TLSv1_2", "TLSv1_2"), ciphers="ECDHE+AES:RSA+AES",
                       client_order=True, hsts=None, reneg="client"),
    # TLS 1.0 to 1.2 with CBC suites, DHE and 3DES (OpenSSL 3 needs security level 0 for them).
    "legacy-tls10": dict(versions=("TLSv1", "TLSv1_2"),
                         ciphers="ECDHE+AES:DHE+AES:RSA+AES:RSA+3DES:@SECLEVEL=0",
                         dh=True, hsts=None, reneg="client"),
    # TLS 1.1 and 1.2 with CBC suites, an HSTS header without includeSubDomains.
    "legacy-tls11": dict(versions=("TLSv1_1", "TLSv1_2"), ciphers="ECDHE+AES:RSA+AES:@SECLEVEL=0",
                         hsts="max-age=86400", reneg=False),
}
# Certificate files in CERT_DIR: <name>.crt (leaf, then the CA for the CA-signed ones) and <name>.key.
# SSL_OP_ALLOW_CLIENT_RENEGOTIATION of OpenSSL 3.0, which the ssl module does not name.
OP_ALLOW_CLIENT_RENEGOTIATION = 1 << 8
CERTS = ["rsa2048-ca", "p256-ca", "rsa2048-self", "p256-self"]


def context(cert_dir, config, cert):
    c = CONFIGS[config]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # TLSVersion.TLSv1 and TLSv1_1 are deprecated names
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = getattr(ssl.TLSVersion, c["versions"][0])
        ctx.maximum_version = getattr(ssl.TLSVersion, c["versions"][1])
    if c["ciphers"]:
        ctx.set_ciphers(c["ciphers"])
    if c.get("dh"):
        ctx.load_dh_params(os.path.join(cert_dir, "ffdhe2048.pem"))
    if c.get("client_order"):
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if c["reneg"] == "client" and ssl.OPENSSL_VERSION_INFO >= (3,):
        ctx.options |= OP_ALLOW_CLIENT_RENEGOTIATION
    elif not c["reneg"]:
        ctx.options |= ssl.OP_NO_RENEGOTIATION
    ctx.load_cert_chain(os.path.join(cert_dir, cert + ".crt"), os.path.join(cert_dir, cert + ".key"))
    return ctx


def answer(tls, hsts):
    """Reads one HTTP request (if the client sends one) and answers it."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 16384:
        chunk = tls.recv(4096)
        if not chunk:
            return
        data += chunk
    if not data.startswith((b"GET ", b"HEAD ")):
        return
    head = ["HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 3", "Connection: close"]
    if hsts:
        head.append("Strict-Transport-Security: " + hsts)
    body = b"" if data.startswith(b"HEAD ") else b"ok\n"
    tls.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def handle(conn, ctx, hsts):
    conn.settimeout(20)
    tls = None
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        answer(tls, hsts)
        try:
            tls.unwrap()
        except (OSError, ValueError):
            pass
    except (OSError, ValueError):
        pass  # failed handshakes are most of a scanner's connections
    finally:
        (tls or conn).close()


def serve(cert_dir, count, ready_file):
    sel = selectors.DefaultSelector()
    endpoints = []
    listeners = []
    for i in range(count):
        config = list(CONFIGS)[i % len(CONFIGS)]
        cert = CERTS[(i // len(CONFIGS)) % len(CERTS)]
        ctx = context(cert_dir, config, cert)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1024)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, (ctx, CONFIGS[config]["hsts"]))
        listeners.append(s)
        endpoints.append({"port": s.getsockname()[1], "config": config, "cert": cert})
    tmp = ready_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(endpoints, f, indent=1)
    os.replace(tmp, ready_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.5):
            try:
                conn, _ = key.fileobj.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:  # EMFILE and the like: say so, keep serving
                print(f"endpoints_servers.py: accept: {e}", file=sys.stderr)
                continue
            conn.setblocking(True)
            ctx, hsts = key.data
            threading.Thread(target=handle, args=(conn, ctx, hsts), daemon=True).start()
    for s in listeners:
        s.close()


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    for s in socks:
        print(s.getsockname()[1])
    for s in socks:
        s.close()


def inputs(ready_file, ssh_ports_file, out, copies):
    endpoints = json.load(open(ready_file))
    ssh_ports = [int(line) for line in open(ssh_ports_file) if line.strip()]

    def inventory(path, entries, probes, tag):
        with open(path, "w") as f:
            f.write("hosts:\n")
            for name, port in entries:
                f.write(f"  - name: {name}\n    address: 127.0.0.1\n    ports: [{port}]\n"
                        f"    probes: [{', '.join(probes)}]\n    tags: [{tag}]\n")

    tls = [(f"tls-{i:03d}.{DOMAIN}", e["port"]) for i, e in enumerate(endpoints)]
    inventory(os.path.join(out, "tls-200.yaml"), tls, ["tls", "http"], "bench")
    big = [(f"tls-{i:03d}-{k}.{DOMAIN}", e["port"]) for k in range(copies) for i, e in enumerate(endpoints)]
    inventory(os.path.join(out, "tls-big.yaml"), big, ["tls", "http"], "bench")
    inventory(os.path.join(out, "ssh.yaml"), [(f"ssh-{i:02d}", p) for i, p in enumerate(ssh_ports)],
              ["ssh"], "bench")
    # sslyze: HOST:PORT{IP} connects to IP and sends HOST as SNI, as vigil's NAME@ADDRESS does.
    with open(os.path.join(out, "sslyze-targets.txt"), "w") as f:
        for name, port in tls:
            f.write(f"{name}:{port}{{127.0.0.1}}\n")
    with open(os.path.join(out, "ssh-audit-targets.txt"), "w") as f:
        for p in ssh_ports:
            f.write(f"127.0.0.1:{p}\n")


# --- summary -------------------------------------------------------------------------------------

def peak_rss_kib(path):
    try:
        for line in open(path):
            if "Maximum resident set size" in line:
                return int(line.rsplit(":", 1)[1])
    except OSError:
        pass
    return None


def hyperfine(path):
    """(mean, stddev, runs, mean user + system CPU) of the one command of a hyperfine JSON export."""
    try:
        r = json.load(open(path))["results"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return r["mean"], r.get("stddev") or 0.0, len(r["times"]), r.get("user", 0.0) + r.get("system", 0.0)


def server_cpu(path):
    try:
        return float(open(path).read())
    except (OSError, ValueError):
        return None


def load_json(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None


def vigil_endpoints(path):
    """endpoint -> {control: state} from a vigil result document, and the scan errors."""
    doc = load_json(path)
    if doc is None:
        return None
    states = {}
    for f in doc.get("findings", []):
        target = f.get("target", {})
        name = target.get("endpoint") or target.get("path") or json.dumps(target, sort_keys=True)
        states.setdefault(name, {})[f.get("control")] = f.get("state")
    return states, doc.get("scan_errors", []), doc.get("inventory", {})


SSLYZE_PROTOCOLS = [("ssl_3_0_cipher_suites", "ssl3"), ("tls_1_0_cipher_suites", "tls1_0"),
                    ("tls_1_1_cipher_suites", "tls1_1"), ("tls_1_2_cipher_suites", "tls1_2"),
                    ("tls_1_3_cipher_suites", "tls1_3")]


def sslyze_endpoints(path):
    """name:port -> {fact: value} for the servers sslyze scanned, the ones it could not, and the
    scan commands that ended in an error (command -> count)."""
    doc = load_json(path)
    if doc is None:
        return None
    out, failed, errors = {}, [], {}
    for r in doc.get("server_scan_results", []):
        loc = r.get("server_location", {})
        key = f"{loc.get('hostname')}:{loc.get('port')}"
        if r.get("scan_status") != "COMPLETED":
            trace = (r.get("connectivity_error_trace") or "").strip().splitlines()
            failed.append((key, trace[-1] if trace else r.get("connectivity_status")))
            continue
        facts = {}
        for cmd, a in (r.get("scan_result") or {}).items():
            if not a or a.get("status") == "NOT_SCHEDULED":
                continue
            if a.get("status") != "COMPLETED":
                errors[cmd] = errors.get(cmd, 0) + 1
                continue
            res = a["result"]
            for c, name in SSLYZE_PROTOCOLS:
                if c == cmd:
                    facts[name] = len(res["accepted_cipher_suites"])
            if cmd == "http_headers":
                facts["hsts"] = res.get("strict_transport_security_header") is not None
        out[key] = facts
    for entry in doc.get("invalid_server_strings", []) or []:
        failed.append((entry.get("server_string"), entry.get("error_message")))
    return out, failed, errors


def ssh_audit_reports(path):
    """(reports, reports with the server's banner and KEX lists, reports with host keys)."""
    try:
        text = open(path).read()
    except OSError:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        doc = [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
    if isinstance(doc, dict):
        doc = [doc]
    kex = [d for d in doc if d.get("kex")]
    keys = [d for d in doc if d.get("key")]
    return len(doc), len(kex), len(keys)


def summary(out):
    meta = json.load(open(os.path.join(out, "meta.json")))
    versions = {}
    for line in open(os.path.join(out, "versions.txt")):
        tool, _, rest = line.partition(" ")
        versions.setdefault(tool, rest.split()[0] if rest.split() else "")
    n_tls, n_big, n_ssh = meta["tls_endpoints"], meta["tls_big_endpoints"], meta["ssh_endpoints"]
    names = ["vigil-tls", "sslyze-tls", "vigil-tls-big", "vigil-ssh", "ssh-audit-ssh"]
    hf = {n: hyperfine(os.path.join(out, f"hyperfine-{n}.json")) for n in names}
    rss = {n: peak_rss_kib(os.path.join(out, n + ".time")) for n in names}
    srv = {n: server_cpu(os.path.join(out, f"server-cpu-{n}.txt")) for n in names}

    def ratio(peer, base):
        t = ""
        if hf[peer] and hf[base]:
            (m, sd, _, _), (vm, vsd, _, _) = hf[peer], hf[base]
            r = m / vm
            t = f"{r:.1f}× ± {r * ((sd / m) ** 2 + (vsd / vm) ** 2) ** 0.5:.1f} (time)"
        if rss[peer] and rss[base]:
            t += f", {rss[peer] / rss[base]:.1f}× (peak RSS)"
        return t

    def row(tool, proto, n, name, peer_of=None):
        t = cpu = "–"
        if hf[name]:
            m, sd, runs, c = hf[name]
            t = f"{m:.2f} s ± {sd:.2f} ({runs} runs)"
            cpu = f"{c:.2f} s"
        server = "–" if srv[name] is None else f"{srv[name]:.2f} s"
        kib = rss[name]
        return [tool, proto, f"{n:,}", t, cpu, server, "–" if kib is None else f"{kib / 1024:.1f} MiB",
                ratio(name, peer_of) if peer_of else ""]

    v = "vigil " + versions.get("vigil", "")
    rows = [
        row(v, "TLS", n_tls, "vigil-tls"),
        row("sslyze " + versions.get("sslyze", ""), "TLS", n_tls, "sslyze-tls", "vigil-tls"),
        row(v, "TLS", n_big, "vigil-tls-big"),
        row(v, "SSH", n_ssh, "vigil-ssh"),
        row("ssh-audit " + versions.get("ssh-audit", ""), "SSH", n_ssh, "ssh-audit-ssh", "vigil-ssh"),
    ]
    p = print
    p(f"### Endpoint scans: vigil, sslyze, ssh-audit ({meta['cores']} cores, {meta['date']})")
    p()
    p("| tool | protocol | endpoints | mean wall time ± σ | tool CPU | servers' CPU | peak RSS | peer / vigil |")
    p("|---|---|---:|---|---:|---:|---:|---|")
    for r in rows:
        p("| " + " | ".join(r) + " |")
    p()
    p("Wall times: hyperfine, 1 warmup run then the runs shown; the ratio's ± propagates both "
      "standard deviations. Tool CPU: user + system time per run (hyperfine). Servers' CPU: what the "
      "TLS server process or the sshd processes (with their per-connection children) spent per run "
      "during the timing, on the same cores as the tool. Peak RSS: one more run under GNU time -v.")
    if rss["vigil-tls"] and rss["vigil-tls-big"] and hf["vigil-tls"] and hf["vigil-tls-big"]:
        a, b = rss["vigil-tls"], rss["vigil-tls-big"]
        ta, tb = hf["vigil-tls"][0], hf["vigil-tls-big"][0]
        p()
        p(f"vigil from {n_tls:,} to {n_big:,} TLS endpoints ({n_big // n_tls}× as many): peak RSS "
          f"{a / 1024:.1f} → {b / 1024:.1f} MiB ({b / a:.2f}×), wall time {ta:.2f} → {tb:.2f} s "
          f"({tb / ta:.1f}×). The {n_big:,} inventory entries are {n_big // n_tls} names for each of "
          f"the {n_tls} listeners (tls-NNN-K.vigil.test, all matched by the certificates' "
          f"*.vigil.test): every entry is probed in full, against the same {n_tls} server sockets.")
    p()

    p("#### What each tool got from the endpoints (the runs under GNU time)")
    p()
    vt = vigil_endpoints(os.path.join(out, "vigil-tls.json"))
    st = sslyze_endpoints(os.path.join(out, "sslyze-tls.json"))
    if vt:
        states, scan_errors, inv = vt
        err = sum(1 for c in states.values() if "error" in c.values())
        p(f"- vigil, TLS: {len(states)} of {n_tls} endpoints judged, {err} with an error finding, "
          f"{len(scan_errors)} scan errors.")
    if st:
        servers, failed, errors = st
        p(f"- sslyze, TLS: {len(servers)} of {n_tls} endpoints scanned, {len(failed)} not"
          + (" (" + "; ".join(f"{k}: {e}" for k, e in failed[:5]) + ")" if failed else "")
          + (", scan commands that ended in an error: "
             + ", ".join(f"{c} on {n}" for c, n in sorted(errors.items())) if errors else "") + ".")
    if vt and st:
        # Protocol versions accepted, both ways: vigil's TLS-001/002/003 fail when SSLv3, TLS 1.0,
        # TLS 1.1 are accepted.
        agree, differ = 0, []
        for key, facts in st[0].items():
            states = vt[0].get(key, {})
            for control, proto in [("TLS-001", "ssl3"), ("TLS-002", "tls1_0"), ("TLS-003", "tls1_1")]:
                if states.get(control) not in ("pass", "fail") or proto not in facts:
                    continue
                if (states[control] == "fail") == (facts[proto] > 0):
                    agree += 1
                else:
                    differ.append(f"{key} {proto}: vigil {states[control]}, sslyze {facts[proto]} suites")
        p(f"- SSLv3, TLS 1.0 and TLS 1.1 accepted or refused, endpoint by endpoint: vigil and "
          f"sslyze agree {agree} times, differ {len(differ)} times"
          + (" (" + "; ".join(differ[:5]) + ")" if differ else "") + ".")
    vb = vigil_endpoints(os.path.join(out, "vigil-tls-big.json"))
    if vb:
        err = sum(1 for c in vb[0].values() if "error" in c.values())
        p(f"- vigil, {n_big:,} TLS entries: {len(vb[0])} judged, {err} with an error finding, "
          f"{len(vb[1])} scan errors.")
    vs = vigil_endpoints(os.path.join(out, "vigil-ssh.json"))
    if vs:
        err = sum(1 for c in vs[0].values() if "error" in c.values())
        p(f"- vigil, SSH: {len(vs[0])} of {n_ssh} endpoints judged, {err} with an error finding, "
          f"{len(vs[1])} scan errors.")
    sa = ssh_audit_reports(os.path.join(out, "ssh-audit-ssh.json"))
    if sa:
        p(f"- ssh-audit, SSH: {sa[0]} reports for {n_ssh} targets, {sa[1]} with the KEX lists, "
          f"{sa[2]} with host keys.")
    p()
    p("#### Versions")
    p()
    for line in open(os.path.join(out, "versions.txt")):
        p("- " + line.rstrip())
    p()
    p("#### Commands")
    p()
    p("```sh")
    p(open(os.path.join(out, "commands.sh")).read().rstrip())
    p("```")


def main(argv):
    if len(argv) >= 4 and argv[0] == "serve":
        serve(argv[1], int(argv[2]), argv[3])
    elif len(argv) == 2 and argv[0] == "free-ports":
        free_ports(int(argv[1]))
    elif len(argv) == 5 and argv[0] == "inputs":
        inputs(argv[1], argv[2], argv[3], int(argv[4]))
    elif len(argv) == 2 and argv[0] == "summary":
        summary(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
