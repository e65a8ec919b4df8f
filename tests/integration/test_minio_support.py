# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Support for the minio tests (no tests here): run minio_* modules through ansible-playbook, read results."""

import hashlib
import json
import os
import sys

from conftest import run_playbook

MIB = 1024 * 1024
FQCN = 'mt5crs.gpu_orchestrator.'


def write_random(path, size, seed=0):
    """Deterministic pseudo-random bytes (fast enough for a few MiB)."""
    block = hashlib.sha256(b'seed-%d' % seed).digest() * 2048
    with open(path, 'wb') as handle:
        left = size
        counter = 0
        while left > 0:
            chunk = hashlib.sha256(block + str(counter).encode()).digest() + block
            handle.write(chunk[:left])
            left -= min(left, len(chunk))
            counter += 1
    return str(path)


def connection(creds, **extra):
    args = dict(endpoint_url=creds['endpoint_url'], access_key=creds['access_key'], secret_key=creds['secret_key'],
                region=creds['region'], max_attempts=2, connect_timeout=2, read_timeout=10)
    args.update(extra)
    return args


def playbook_for(steps, out_dir):
    tasks = []
    for number, step in enumerate(steps):
        task = {
            'name': 'Step %d %s' % (number, step['module']),
            FQCN + step['module']: step['args'],
            'register': 'step_result',
            'ignore_errors': True,
        }
        if step.get('check'):
            task['check_mode'] = True
        if step.get('diff'):
            task['diff'] = True
        tasks.append(task)
        tasks.append({
            'name': 'Record step %d' % number,
            'ansible.builtin.copy': {'content': '{{ step_result | to_json }}',
                                     'dest': os.path.join(str(out_dir), 'step-%03d.json' % number)},
            'check_mode': False,
            'diff': False,
        })
    return [{'hosts': 'localhost', 'gather_facts': False, 'connection': 'local',
             'vars': {'ansible_python_interpreter': sys.executable}, 'tasks': tasks}]


def run_steps(tmp_path, steps, secret=None, env=None):
    """Run steps (dicts: module, args, check, diff) in one playbook; return their results in order."""
    run_dir = tmp_path / ('run-%d' % len(list(tmp_path.glob('run-*'))))
    run_dir.mkdir()
    playbook = run_dir / 'play.yml'
    playbook.write_text(json.dumps(playbook_for(steps, run_dir)))
    os.chmod(str(playbook), 0o600)
    proc = run_playbook(run_dir, playbook, env=env, check=False)
    results = []
    for number in range(len(steps)):
        path = run_dir / ('step-%03d.json' % number)
        if not path.exists():
            raise AssertionError('step %d left no result:\n%s' % (number, proc.stdout[-4000:]))
        results.append(json.loads(path.read_text()))
    if secret:
        assert secret not in proc.stdout, 'the secret key appeared in ansible-playbook output'
        for result in results:
            assert secret not in json.dumps(result), 'the secret key appeared in a module result'
    return results


def step(module, check=False, diff=False, **args):
    return dict(module=module, args=args, check=check, diff=diff)
