# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time the site playbook across fleets of 1, 2 and 4 GPU hosts (podman containers over SSH).

For each fleet size, fresh hosts are made (one INF host and N GPU hosts from the test image, a new
S3 server on the container network's gateway, a new key pair and known_hosts file), the site
playbook runs once from nothing, and its wall time is printed with the ratio to the one-host run
(target: 4 hosts at most 1.5x the time of one). Only the ansible-playbook run is timed; making
the hosts is not. Figures only: this never passes or fails on time.

GPU hosts install torch from the controller's wheelhouse (tools/make-wheelhouse.sh), mounted
read-only, with no package index, as in the molecule scenarios.

Usage: .venv/bin/python benchmarks/bench_fleet.py [--sizes 1 2 4] [--keep]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import local_s3  # noqa: E402

NETWORK = 'mt5crs-bench'
PREFIX = '10.89.45'
GATEWAY = PREFIX + '.1'
WHEELHOUSE_MOUNT = '/opt/mt5crs-wheelhouse'
LABEL = 'mt5crs.bench=fleet'


def run(cmd, **kwargs):
    kwargs.setdefault('stdout', subprocess.PIPE)
    kwargs.setdefault('stderr', subprocess.PIPE)
    proc = subprocess.run(cmd, text=True, stdin=subprocess.DEVNULL, check=False, **kwargs)
    if proc.returncode != 0:
        raise SystemExit('bench_fleet: %s failed (rc=%d): %s' % (' '.join(cmd[:3]), proc.returncode,
                                                                 (proc.stderr or proc.stdout)[-2000:]))
    return proc


def podman(*args):
    return run(['podman'] + list(args))


def remove_hosts():
    ids = podman('ps', '-aq', '--filter', 'label=' + LABEL).stdout.split()
    if ids:
        podman('rm', '--force', *ids)


def make_hosts(image, wheelhouse, work, gpu_count):
    """Start one INF host and gpu_count GPU hosts; return {name: address}, with known_hosts written."""
    hosts = {'bench-inf1': PREFIX + '.21'}
    hosts.update(('bench-gpu%d' % i, '%s.%d' % (PREFIX, 10 + i)) for i in range(1, gpu_count + 1))
    with open(os.path.join(work, 'id_ed25519.pub')) as stream:
        public_key = stream.read().strip()
    for name, address in hosts.items():
        podman('run', '--detach', '--name', name, '--hostname', name, '--network', NETWORK, '--ip', address,
               '--label', LABEL, '--env', 'MT5CRS_AUTHORIZED_KEY=' + public_key,
               '--volume', '%s:%s:ro' % (wheelhouse, WHEELHOUSE_MOUNT), image)
    lines = []
    for name, address in hosts.items():
        run(['bash', '-c', 'for i in $(seq 150); do (exec 3<>/dev/tcp/%s/22) 2>/dev/null && exit 0; sleep 0.2; '
                           'done; exit 1' % address])
        scanned = run(['ssh-keyscan', '-T', '10', '-t', 'ed25519', address]).stdout.strip()
        inside = podman('exec', name, 'cat', '/etc/ssh/ssh_host_ed25519_key.pub').stdout.split()[1]
        if scanned.split()[2] != inside:
            raise SystemExit('bench_fleet: host key scanned at %s is not the key inside %s' % (address, name))
        lines.append(scanned)
    with open(os.path.join(work, 'known_hosts'), 'w') as stream:
        stream.write('\n'.join(lines) + '\n')
    return hosts


def write_inventory(work, hosts, credentials_file):
    ssh_args = ('-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes'
                % os.path.join(work, 'known_hosts'))
    credentials = "(lookup('ansible.builtin.file', '%s') | from_json)" % credentials_file
    inventory = {
        'all': {
            'vars': {
                'ansible_user': 'root', 'ansible_become': True, 'ansible_python_interpreter': '/usr/bin/python3',
                'ansible_ssh_private_key_file': os.path.join(work, 'id_ed25519'), 'ansible_ssh_common_args': ssh_args,
                'mt5crs_require_cuda': False, 'mt5crs_venv_path': '/opt/mt5crs/venv', 'mt5crs_venv_owner': 'root',
                'mt5crs_data_dir': '/srv/mt5crs/data', 'mt5crs_dataset_src': '/srv/datasets/eurusd_h1.parquet',
                'mt5crs_dataset_bucket': 'mt5crs-datasets', 'mt5crs_dataset_key': 'eurusd/h1/eurusd_h1.parquet',
                'mt5crs_pip_find_links': WHEELHOUSE_MOUNT, 'mt5crs_pip_no_index': True, 'gpu_env_pip_no_index': True,
                'mt5crs_review_ledger': os.path.join(work, 'review', 'approvals.jsonl'),
                'mt5crs_s3_endpoint_url': 'http://%s:9000' % GATEWAY,
                'mt5crs_s3_access_key': '{{ %s.access_key }}' % credentials,
                'mt5crs_s3_secret_key': '{{ %s.secret_key }}' % credentials,
            },
            'children': {
                'inf': {'hosts': {name: {'ansible_host': address} for name, address in hosts.items() if 'inf' in name},
                        'vars': {'dataset_publish_venv_path': '/opt/mt5crs/inf-venv'}},
                'gpu': {'hosts': {name: {'ansible_host': address} for name, address in hosts.items() if 'gpu' in name}},
            },
        },
    }
    path = os.path.join(work, 'inventory.json')
    with open(path, 'w') as stream:
        json.dump(inventory, stream, indent=2)
    return path


def time_site(work, inventory, dataset):
    podman('exec', 'bench-inf1', 'mkdir', '-p', '/srv/datasets')
    podman('cp', dataset, 'bench-inf1:/srv/datasets/eurusd_h1.parquet')
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               MT5CRS_VERIFY_LOG_DIR=os.path.join(work, 'verify'), ANSIBLE_NOCOLOR='1',
               PATH=bindir + os.pathsep + os.environ.get('PATH', ''))
    log = os.path.join(work, 'site-%d.log' % len(os.listdir(work)))
    start = time.monotonic()
    with open(log, 'w') as stream:
        proc = subprocess.run([os.path.join(bindir, 'ansible-playbook'), 'site.yml', '-i', inventory], cwd=ROOT,
                              env=env, stdout=stream, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit('bench_fleet: site playbook failed (rc=%d); see %s' % (proc.returncode, log))
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1, 2, 4])
    parser.add_argument('--keep', action='store_true', help='keep the work directory (logs, inventories)')
    args = parser.parse_args(argv)
    os.environ.setdefault('CONTAINERS_CONF', os.path.join(ROOT, 'tests', 'podman', 'containers.conf'))

    image = run([os.path.join(ROOT, 'tools', 'build-test-image.sh')]).stdout.split()[-1]
    wheelhouse = run([os.path.join(ROOT, 'tools', 'make-wheelhouse.sh')]).stdout.split()[-1]
    work = tempfile.mkdtemp(prefix='mt5crs-bench-fleet.')
    dataset = os.path.join(work, 'eurusd_h1.parquet')
    run([sys.executable, os.path.join(ROOT, 'tools', 'make_dataset.py'), '--from-backtesting', '--out', dataset])
    run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', os.path.join(work, 'id_ed25519')])

    remove_hosts()
    subprocess.run(['podman', 'network', 'rm', '--force', NETWORK], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    podman('network', 'create', '--internal', '--subnet', PREFIX + '.0/24', '--gateway', GATEWAY, NETWORK)
    results = {}
    try:
        for size in args.sizes:
            remove_hosts()
            hosts = make_hosts(image, wheelhouse, work, size)
            state = os.path.join(work, 's3-%d' % size)
            os.makedirs(state)
            server = local_s3.MotoServer(host=GATEWAY, port=9000, log_path=os.path.join(state, 'server.log'))
            server.start()
            try:
                credentials_file = os.path.join(state, 'credentials.json')
                local_s3.write_private_json(credentials_file, server.credentials)
                inventory = write_inventory(work, hosts, credentials_file)
                results[size] = time_site(work, inventory, dataset)
            finally:
                server.stop()
            print('%d GPU host(s): %.1f s' % (size, results[size]), flush=True)
    finally:
        remove_hosts()
        subprocess.run(['podman', 'network', 'rm', '--force', NETWORK], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    base = results.get(min(results)) if results else None
    print('\nsite playbook wall time by fleet size (fresh hosts each; %d CPU cores)' % os.cpu_count())
    print('%-10s %10s %14s' % ('GPU hosts', 'seconds', 'ratio to %d' % min(results)))
    for size in sorted(results):
        print('%-10d %10.1f %14.2f' % (size, results[size], results[size] / base))
    if args.keep:
        print('work directory kept: %s' % work)
    return 0


if __name__ == '__main__':
    sys.exit(main())
