# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test host recreated with new SSH host keys is refused while host key checking is on.

This is the situation docs/testing.md describes: a container is destroyed and recreated under the
same name and address, sshd makes new host keys, and a known_hosts file from the earlier run no
longer matches. Ansible must refuse to connect rather than trust the new key, and the documented
remedy (drop the stale entry, collect the new key) must make it connect again.

Runs in the molecule stage of tools/run-tests.sh (needs podman and the test image).
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NETWORK = 'mt5crs-hostkey'
PREFIX = '10.89.48'
ADDRESS = PREFIX + '.10'
CONTAINER = 'mt5crs-hostkey-gpu1'


def run(cmd, check=True, **kwargs):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                          check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc=%d): %s %s' % (cmd, proc.returncode, proc.stdout, proc.stderr))
    return proc


def podman(*args, check=True):
    env = dict(os.environ)
    env.setdefault('CONTAINERS_CONF', os.path.join(ROOT, 'tests', 'podman', 'containers.conf'))
    return run(['podman'] + list(args), check=check, env=env)


def start_host(image, public_key):
    podman('rm', '--force', CONTAINER, check=False)
    podman('run', '--detach', '--name', CONTAINER, '--hostname', CONTAINER, '--network', NETWORK, '--ip', ADDRESS,
           '--label', 'owner=molecule', '--env', 'MT5CRS_AUTHORIZED_KEY=' + public_key, image)
    run(['bash', '-c', 'for i in $(seq 100); do (exec 3<>/dev/tcp/%s/22) 2>/dev/null && exit 0; sleep 0.2; done; '
                       'exit 1' % ADDRESS])
    return podman('exec', CONTAINER, 'cat', '/etc/ssh/ssh_host_ed25519_key.pub').stdout.split()[1]


def scan_into(known_hosts):
    scanned = run(['ssh-keyscan', '-T', '10', '-t', 'ed25519', ADDRESS]).stdout
    with open(known_hosts, 'a') as stream:
        stream.write(scanned)
    return scanned.split()[2]


def ansible_ping(tmp_path, key, known_hosts):
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING='True', ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               MT5CRS_VERIFY_LOG_DIR=str(tmp_path / 'verify'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'))
    ssh_args = '-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes' % (
        known_hosts)
    return run([os.path.join(os.path.dirname(sys.executable), 'ansible'), 'all', '-i', ADDRESS + ',',
                '-u', 'root', '--private-key', key, '-e', 'ansible_ssh_common_args="%s"' % ssh_args,
                '-e', 'ansible_python_interpreter=/usr/bin/python3', '-m', 'ansible.builtin.ping'],
               check=False, env=env, cwd=ROOT)


@pytest.fixture
def network():
    image = run([os.path.join(ROOT, 'tools', 'build-test-image.sh')]).stdout.split()[-1]
    podman('rm', '--force', CONTAINER, check=False)
    podman('network', 'rm', '--force', NETWORK, check=False)
    podman('network', 'create', '--internal', '--subnet', PREFIX + '.0/24', '--gateway', PREFIX + '.1', NETWORK)
    yield image
    podman('rm', '--force', CONTAINER, check=False)
    podman('network', 'rm', '--force', NETWORK, check=False)


def test_recreated_host_with_new_keys_is_refused(network, tmp_path):
    key = str(tmp_path / 'id_ed25519')
    known_hosts = str(tmp_path / 'known_hosts')
    run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key])
    with open(key + '.pub') as stream:
        public_key = stream.read().strip()

    first_key = start_host(network, public_key)
    assert scan_into(known_hosts) == first_key
    first = ansible_ping(tmp_path, key, known_hosts)
    assert first.returncode == 0 and '"ping": "pong"' in first.stdout, first.stdout + first.stderr

    # Same name, same address, new container: sshd makes new host keys.
    second_key = start_host(network, public_key)
    assert second_key != first_key, 'a recreated container kept its host key'
    refused = ansible_ping(tmp_path, key, known_hosts)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, 'Ansible connected to a host whose key changed:\n' + output
    assert 'UNREACHABLE' in output and 'REMOTE HOST IDENTIFICATION HAS CHANGED' in output, output

    # The remedy docs/testing.md gives: drop the stale entry, collect the new key, connect again.
    run(['ssh-keygen', '-R', ADDRESS, '-f', known_hosts])
    assert scan_into(known_hosts) == second_key
    again = ansible_ping(tmp_path, key, known_hosts)
    assert again.returncode == 0 and '"ping": "pong"' in again.stdout, again.stdout + again.stderr
