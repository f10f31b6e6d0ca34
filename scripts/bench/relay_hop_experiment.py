#!/usr/bin/env python3
"""The stable port's relay hop, measured without devhost (issue #19): 1 GiB through plain `ssh -L`
against the same with a relay in front of it that copies through user space (`copy`, 1 MiB reads,
as devhost's relay does), moves pages with splice(2) through a pipe (`splice`), or copies with
4 MiB socket buffers (`copybuf`), and with no hop: an ssh master's stdio forwarding started for each
connection (`stdio`). Interleaved, ROUNDS times (default 3); each relay prints the CPU
it used per GiB. A real sshd on loopback with throwaway keys, as forward_bench.py starts it.
Usage: python3 scripts/bench/relay_hop_experiment.py [ROUNDS]"""
import fcntl, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import Source, free_port, wait_port, read_all, GIB


def relay(mode, listen_port, target):
    F_SETPIPE_SZ = 1031
    def pump(src, dst):
        try:
            if mode == "splice":
                r, w = os.pipe()
                try: fcntl.fcntl(r, F_SETPIPE_SZ, 1 << 20)
                except OSError: pass
                while True:
                    n = os.splice(src.fileno(), w, 1 << 20, flags=os.SPLICE_F_MOVE)
                    if n == 0: break
                    while n:
                        n -= os.splice(r, dst.fileno(), n, flags=os.SPLICE_F_MOVE)
            else:
                buf = bytearray(1 << 20); view = memoryview(buf)
                reads = 0
                while True:
                    n = src.recv_into(buf)
                    reads += 1
                    if n == 0: break
                    dst.sendall(view[:n])
                print(mode, "reads", reads, flush=True)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port)); srv.listen(16)
    while True:
        c, _ = srv.accept()
        u = socket.create_connection(("127.0.0.1", target))
        if mode == "copybuf":
            for x in (c, u):
                x.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20); x.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        t0 = os.times()
        a = threading.Thread(target=pump, args=(c, u)); b = threading.Thread(target=pump, args=(u, c))
        a.start(); b.start(); b.join(); a.join()
        t1 = os.times()
        print(mode, "cpu", round(t1.user - t0.user + t1.system - t0.system, 3), "user", round(t1.user - t0.user, 3), flush=True)
        c.close(); u.close()


def main():
    folder = tempfile.mkdtemp(prefix="devhost-relay-hop-")
    procs = []
    try:
        user = subprocess.check_output(["id", "-un"], text=True).strip()
        for key in ("host", "user"):
            subprocess.check_call(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{folder}/{key}_key"])
        shutil.copy(f"{folder}/user_key.pub", f"{folder}/authorized_keys")
        ssh_port = free_port()
        with open(f"{folder}/sshd_config", "w") as f:
            f.write(f"Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {folder}/host_key\nAuthorizedKeysFile {folder}/authorized_keys\n"
                    f"AllowUsers {user}\nUsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\nPidFile none\nMaxSessions 100\n")
        procs.append(subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", f"{folder}/sshd_config"], start_new_session=True))
        assert wait_port(ssh_port)
        hk = open(f"{folder}/host_key.pub").read().split()
        open(f"{folder}/known_hosts", "w").write(f"[127.0.0.1]:{ssh_port} {hk[0]} {hk[1]}\n")
        config = f"{folder}/ssh_config"
        open(config, "w").write(f"Host *\n  UserKnownHostsFile {folder}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n"
                                f"  IdentityFile {folder}/user_key\n  IdentitiesOnly yes\n  IdentityAgent none\n")
        source = Source(GIB); source.start()
        plain = free_port()
        procs.append(subprocess.Popen(["ssh", "-F", config, "-N", "-p", str(ssh_port), "-L", f"127.0.0.1:{plain}:127.0.0.1:{source.port}", f"{user}@127.0.0.1"], start_new_session=True))
        assert wait_port(plain)
        ports = {"plain": plain}
        for mode in ("copy", "splice", "copybuf"):
            p = free_port()
            procs.append(subprocess.Popen([sys.executable, __file__, "relay", mode, str(p), str(plain)], start_new_session=True))
            ports[mode] = p
        # No hop at all: each connection is handed to an ssh master's stdio forwarding (`ssh -S CTL -W`,
        # whose mux client passes its stdin and stdout, the accepted socket, to the master).
        ctl = f"{folder}/ctl"
        procs.append(subprocess.Popen(["ssh", "-F", config, "-N", "-M", "-S", ctl, "-p", str(ssh_port), f"{user}@127.0.0.1"],
                                      start_new_session=True))
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        ports["stdio"] = listener.getsockname()[1]

        def hand_over():
            while True:
                conn, _ = listener.accept()
                mux = subprocess.Popen(["ssh", "-F", config, "-S", ctl, "-W", f"127.0.0.1:{source.port}", "-p", str(ssh_port),
                                        f"{user}@127.0.0.1"], stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.DEVNULL)
                conn.close()
                threading.Thread(target=mux.wait, daemon=True).start()
        threading.Thread(target=hand_over, daemon=True).start()
        assert all(wait_port(p) for p in ports.values()), "a relay did not listen"
        # Without the master's socket, `ssh -S` would quietly make a connection of its own.
        deadline = time.time() + 10
        while not os.path.exists(ctl) and time.time() < deadline:
            time.sleep(0.01)
        assert os.path.exists(ctl), "the ssh master did not start"
        rates = {k: [] for k in ports}
        for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
            for k, p in ports.items():
                n, s = read_all(p); assert n == GIB
                rates[k].append(round(n / s / (1 << 20), 1))
        print(rates, {k: round(max(v) / max(rates["plain"]), 3) for k, v in rates.items()})
    finally:
        for p in procs:
            try: os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError: pass
            p.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["relay"]:
        relay(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
