# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an operator checks after the preflight phase: an honest finding per host, recorded, and nothing touched."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import molecule_support as ms  # noqa: E402

testinfra_hosts = ms.hosts('all')


def test_verify_log_has_every_host():
    ms.assert_logged_every_host({'preflight': ms.host_names('all')}, ['preflight'])


def test_gpu_host_probe_is_honest_about_no_gpu():
    records = ms.converge_logs(check_mode=False)[-1][2]
    for name in ms.host_names('gpu'):
        probes = [r for r in records if r['host'] == name and r['action'].endswith('gpu_probe')]
        assert probes, 'no gpu_probe record for %s' % name
        result = probes[-1]['result']
        assert result['cuda_active'] is False, '%s: cuda_active %r in a container without a GPU' % (
            name, result['cuda_active'])
        assert result['gpu_count'] == 0
        assert result['state'] != 'ok', '%s: probe state %r, expected a no-GPU state' % (name, result['state'])


def test_idempotence_run_changed_nothing():
    records, footer = ms.converge_logs(check_mode=False)[-1][2:]
    changed = [(r['host'], r['task']) for r in records if r.get('result', {}).get('changed')]
    assert not changed, 'tasks changed on the last run: %s' % changed
    assert all(stats['changed'] == 0 for stats in footer['stats'].values())


def test_preflight_created_nothing_on_the_host(host):
    for path in ('/opt/mt5crs', '/srv/mt5crs'):
        assert not host.file(path).exists, '%s exists after a read-only preflight' % path


def test_sshd_is_reached_with_host_key_checking(host):
    # The connection itself is the check: testinfra's SSH call uses this run's known_hosts with
    # StrictHostKeyChecking=yes, so a host whose key is not the recorded one cannot answer.
    assert host.run('true').rc == 0
    assert host.file('/etc/ssh/ssh_host_ed25519_key.pub').exists
