#!/usr/bin/env python3
"""Forwards (issue #19) against a real sshd on loopback, started here with throwaway keys:
  1. time to restore a killed forward to healthy (its ssh master SIGKILLed; LocalPort: 11.6 s),
  2. 1 GiB through devhost's forward vs plain `ssh -L` to the same sshd (ratio, best of 3), and
     devhost's CPU while a GiB passes its relay (least of 3),
  3. 20 forwards to one host: `devhost up -d` to all healthy, and devhost's RSS.
DEVHOST=path (default .build/release/devhost). Everything started here is ended here."""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

DEVHOST = os.environ.get("DEVHOST", os.path.join(os.path.dirname(__file__), "../../.build/release/devhost"))
GIB = 1 << 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.01)
    return False


class Source(threading.Thread):
    """Sends `size` bytes to each connection (the remote end of the throughput test)."""

    def __init__(self, size):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.size = size

    def run(self):
        chunk = b"\0" * (1 << 20)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn, chunk), daemon=True).start()

    def serve(self, conn, chunk):
        try:
            left = self.size
            while left > 0:
                conn.sendall(chunk[: min(len(chunk), left)])
                left -= min(len(chunk), left)
        except OSError:
            pass
        finally:
            conn.close()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_all(port):
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        total = 0
        while True:
            data = conn.recv(1 << 20)
            if not data:
                break
            total += len(data)
    return total, time.perf_counter() - start


def main():
    folder = tempfile.mkdtemp(prefix="devhost-forward-bench-")
    procs = []
    try:
        user = os.environ.get("USER") or subprocess.check_output(["id", "-un"], text=True).strip()
        for key in ("host", "user"):
            subprocess.check_call(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{folder}/{key}_key"])
        shutil.copy(f"{folder}/user_key.pub", f"{folder}/authorized_keys")
        ssh_port = free_port()
        with open(f"{folder}/sshd_config", "w") as f:
            f.write(f"Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {folder}/host_key\nAuthorizedKeysFile {folder}/authorized_keys\n"
                    f"AllowUsers {user}\nUsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\nPidFile none\nMaxSessions 100\n")
        os.makedirs("/run/sshd", exist_ok=True)
        sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", f"{folder}/sshd_config"], start_new_session=True)
        procs.append(sshd)
        assert wait_port(ssh_port), "sshd did not start"
        host_key = open(f"{folder}/host_key.pub").read().split()
        with open(f"{folder}/known_hosts", "w") as f:
            f.write(f"[127.0.0.1]:{ssh_port} {host_key[0]} {host_key[1]}\n")
        config = f"{folder}/ssh_config"
        with open(config, "w") as f:
            f.write(f"Host *\n  UserKnownHostsFile {folder}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n"
                    f"  IdentityFile {folder}/user_key\n  IdentitiesOnly yes\n  IdentityAgent none\n")
        source = Source(GIB)
        source.start()
        env = dict(os.environ, DEVHOST_SSH_CONFIG=config, NO_COLOR="1")

        def project(name, count):
            path = f"{folder}/{name}"
            os.makedirs(path)
            services = "".join(
                f"  f{i}:\n    forward:\n      ssh: {{ host: 127.0.0.1, port: {ssh_port}, user: {user} }}\n      remote: 127.0.0.1:{source.port}\n"
                f"    health: {{ tcp: true, interval: 200ms }}\n"
                for i in range(count))
            with open(f"{path}/devhost.yml", "w") as f:
                f.write(f"name: {name}\nproxy: {{ port: {free_port()} }}\nservices:\n{services}")
            return path

        def status(path):
            out = subprocess.run([DEVHOST, "status", "--json"], cwd=path, env=env, capture_output=True, text=True).stdout
            return json.loads(out)

        def healthy_pid(path, service):
            for s in status(path)["services"]:
                if s["name"] == service:
                    inst = s["instances"][0]
                    return inst.get("pid") if inst["state"] == "healthy" else None
            return None

        results = {}
        # 3. Twenty forwards to one host, started together.
        many = project("many", 20)
        start = time.perf_counter()
        subprocess.run([DEVHOST, "up", "-d"], cwd=many, env=env, check=True, capture_output=True)
        results["twenty_forwards_up_to_healthy_s"] = round(time.perf_counter() - start, 3)
        report = status(many)
        assert all(i["state"] == "healthy" for s in report["services"] for i in s["instances"]), report
        rss = [l for l in open(f"/proc/{report['pid']}/status") if l.startswith("VmRSS")][0].split()[1]
        results["devhost_rss_with_twenty_forwards_mib"] = round(int(rss) / 1024, 1)

        # 1. Restore a killed forward: its master SIGKILLed, until status says healthy again (5 rounds).
        restores = []
        for _ in range(5):
            master = healthy_pid(many, "f0")
            killed = time.perf_counter()
            os.kill(master, signal.SIGKILL)
            while True:
                pid = healthy_pid(many, "f0")
                if pid and pid != master:
                    break
                if time.perf_counter() - killed > 30:
                    raise SystemExit("not restored in 30 s")
                time.sleep(0.01)
            restores.append(time.perf_counter() - killed)
            time.sleep(1)
        # Kills one second apart: the backoff grows from 0.5 s (restarts count until a healthy minute).
        results["restore_killed_forward_s"] = [round(r, 3) for r in restores]

        # 2. 1 GiB through devhost's forward (its stable port) vs plain ssh -L, best of 3, interleaved.
        stable = next(s["port"] for s in status(many)["services"] if s["name"] == "f1")
        plain_port = free_port()
        plain = subprocess.Popen(["ssh", "-F", config, "-N", "-o", "ExitOnForwardFailure=yes", "-p", str(ssh_port),
                                  "-L", f"127.0.0.1:{plain_port}:127.0.0.1:{source.port}", f"{user}@127.0.0.1"], start_new_session=True)
        procs.append(plain)
        assert wait_port(plain_port), "ssh -L did not listen"
        devhost_rates, plain_rates, relay_cpu = [], [], []
        daemon = report["pid"]
        for _ in range(3):
            before = cpu_seconds(daemon)
            size, seconds = read_all(stable)
            relay_cpu.append(cpu_seconds(daemon) - before)
            assert size == GIB, size
            devhost_rates.append(size / seconds / (1 << 20))
            size, seconds = read_all(plain_port)
            assert size == GIB, size
            plain_rates.append(size / seconds / (1 << 20))
        results["gib_through_devhost_mib_s"] = round(max(devhost_rates), 1)
        results["gib_through_plain_ssh_L_mib_s"] = round(max(plain_rates), 1)
        results["throughput_ratio"] = round(max(devhost_rates) / max(plain_rates), 3)
        # What the relay's hop costs: devhost's CPU (all threads, user and system) while a GiB passes.
        results["devhost_cpu_s_per_gib"] = round(min(relay_cpu), 3)
        print(json.dumps(results, indent=2))
    finally:
        if os.path.exists(f"{folder}/many/devhost.yml"):
            subprocess.run([DEVHOST, "down"], cwd=f"{folder}/many", capture_output=True)
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
