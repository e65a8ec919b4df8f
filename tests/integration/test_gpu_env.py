# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gpu_env role end to end: a real venv, real pip installs of the CPU torch wheel, real repairs.

One venv is shared by the whole module (torch is about 180 MiB to unpack); the tests run in file order
and each repair test leaves the venv repaired for the next. Torch always comes pinned (torch==2.13.0+cpu).
"""

import getpass
import grp
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from conftest import ROOT, ansible_env, venv_bin

pytestmark = pytest.mark.slow

FAKE_SECRET = 'FAKE-SECRET-gpu-env-7f3a9c'
PLAYBOOK = """\
- name: Build the training venv
  hosts: localhost
  gather_facts: false
  roles:
    - role: mt5crs.gpu_orchestrator.gpu_env
"""


def pip_sources():
    """Local pip sources only: the machine's wheelhouse and file indexes (PyTorch's index is not contacted)."""
    sources = {'gpu_env_pip_find_links': ['/opt/wheels'], 'gpu_env_torch_index_url_template': ''}
    if os.path.isdir('/opt/pypi/simple'):
        sources['gpu_env_pip_index_url'] = 'file:///opt/pypi/simple'
    if os.path.isdir('/opt/pypi-more/simple'):
        sources['gpu_env_pip_extra_index_url'] = ['file:///opt/pypi-more/simple']
    return sources


class EnvRun(object):
    """Runs the role on localhost with the json callback; keeps every run's parsed output."""

    def __init__(self, base):
        self.base = base
        self.venv = base / 'opt' / 'venv'
        self.env_file = base / 'opt' / 'mt5crs.env'
        self.python = str(self.venv / 'bin' / 'python')
        self.vars = dict(pip_sources(), **{
            'ansible_connection': 'local',
            'ansible_python_interpreter': sys.executable,
            'gpu_env_venv_path': str(self.venv),
            'gpu_env_venv_owner': getpass.getuser(),
            'gpu_env_venv_group': grp.getgrgid(os.getgid()).gr_name,
            'gpu_env_torch_variant': 'cpu',
            'gpu_env_require_cuda': False,
            'mt5crs_data_dir': str(base / 'data'),
            'mt5crs_s3_endpoint_url': 'http://127.0.0.1:9',
            'mt5crs_s3_access_key': 'FAKE-ACCESS-KEY',
            'mt5crs_s3_secret_key': FAKE_SECRET,
            'mt5crs_dataset_bucket': 'mt5crs-datasets',
            'mt5crs_dataset_key': 'eurusd/h1.parquet',
        })
        self.playbook = base / 'gpu_env.yml'
        self.playbook.write_text(PLAYBOOK)
        self.outputs = []

    def run(self, check=False, expect_rc=0, **overrides):
        extra = dict(self.vars, **overrides)
        vars_file = self.base / 'extra-vars.json'
        vars_file.write_text(json.dumps(extra))
        os.chmod(str(vars_file), 0o600)
        cmd = [venv_bin('ansible-playbook'), '-i', 'localhost,', str(self.playbook), '-e', '@%s' % vars_file]
        if check:
            cmd.append('--check')
        env = ansible_env(self.base, ANSIBLE_STDOUT_CALLBACK='json')
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              check=False)
        self.outputs.append(proc.stdout + proc.stderr)
        assert proc.returncode == expect_rc, 'rc=%d\n%s\n%s' % (proc.returncode, proc.stdout[-8000:], proc.stderr)
        # The json callback's document comes first; other callbacks (verify_log's summary) may print after it.
        data, dummy = json.JSONDecoder().raw_decode(proc.stdout)
        return Result(data)

    def venv_python(self, code):
        return subprocess.run([self.python, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, check=True).stdout.strip()

    def pip(self, *args):
        subprocess.run([self.python, '-m', 'pip', '--disable-pip-version-check'] + list(args), check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def torch_dist_info(self):
        return sorted(p.name for p in self.venv.glob('lib/python*/site-packages/torch-*.dist-info'))


class Result(object):
    """The json callback's output for one host: per task, its result."""

    def __init__(self, data):
        self.data = data
        self.tasks = [(t['task']['name'], t['hosts'].get('localhost', {}))
                      for play in data['plays'] for t in play['tasks']]

    def changed(self):
        return [name for name, res in self.tasks if res.get('changed')]

    def failed(self):
        return [(name, res.get('msg')) for name, res in self.tasks if res.get('failed')]

    def task(self, name):
        matches = [res for task_name, res in self.tasks if task_name.endswith(name)]
        assert matches, 'no task named %r in %s' % (name, [n for n, dummy in self.tasks])
        return matches[-1]

    def recap(self):
        return self.data['stats']['localhost']


@pytest.fixture(scope='module')
def env_run(tmp_path_factory):
    run = EnvRun(tmp_path_factory.mktemp('gpu_env'))
    run.first = run.run()
    return run


def test_first_run_builds_the_venv(env_run):
    changed = env_run.first.changed()
    for name in ('Create the venv with the host interpreter', 'Install the chosen PyTorch build',
                 'Install the data libraries beside the pinned torch',
                 'Write the environment file for jobs on this host'):
        assert any(task.endswith(name) for task in changed), changed
    versions = json.loads(env_run.venv_python(
        'import json, torch, numpy, pandas, sklearn, pyarrow, boto3; '
        'print(json.dumps({"torch": torch.__version__, "cuda": torch.cuda.is_available()}))'))
    assert versions == {'torch': '2.13.0+cpu', 'cuda': False}
    assert env_run.first.task('Assert torch imports in the venv as the chosen build')['msg'].startswith(
        'torch 2.13.0+cpu imports in %s' % env_run.venv)
    assert env_run.first.task('Probe torch in the venv')['torch']['version'] == '2.13.0+cpu'
    assert stat.S_IMODE(os.stat(str(env_run.venv)).st_mode) == 0o755


def test_second_run_changes_nothing(env_run):
    second = env_run.run()
    assert second.changed() == []
    assert second.recap()['changed'] == 0
    assert second.recap()['failures'] == 0


def test_check_mode_on_a_ready_venv_predicts_nothing(env_run):
    result = env_run.run(check=True)
    assert result.changed() == []


def test_env_file_is_sourceable_and_holds_no_secret(env_run):
    text = env_run.env_file.read_text()
    assert stat.S_IMODE(os.stat(str(env_run.env_file)).st_mode) == 0o644
    assert FAKE_SECRET not in text and 'FAKE-ACCESS-KEY' not in text
    assert 'SECRET' not in text.upper().replace('NO SECRETS', '')
    for output in env_run.outputs:
        assert FAKE_SECRET not in output
    shell = subprocess.run(
        ['bash', '-c', 'set -a; . "$1"; set +a; printf "%s|%s|%s|%s|%s|%s" "$MT5CRS_VENV" "$MT5CRS_DATA_DIR" '
         '"$MT5CRS_S3_ENDPOINT_URL" "$MT5CRS_DATASET_BUCKET" "$MT5CRS_DATASET_KEY" "$MT5CRS_TORCH_BUILD"',
         'source', str(env_run.env_file)], stdout=subprocess.PIPE, text=True, check=True, env={'PATH': os.defpath})
    assert shell.stdout.split('|') == [str(env_run.venv), env_run.vars['mt5crs_data_dir'], 'http://127.0.0.1:9',
                                       'mt5crs-datasets', 'eurusd/h1.parquet', '2.13.0+cpu']


@pytest.mark.skipif(shutil.which('nvidia-smi') is not None, reason='this machine has a GPU; auto would pick CUDA')
def test_auto_without_gpu_keeps_the_cpu_build_and_says_so(env_run):
    result = env_run.run(gpu_env_torch_variant='auto')
    message = result.task('Report the PyTorch build chosen')['msg']
    assert message.startswith('No GPU found on this host'), message
    assert 'installing the CPU build of PyTorch, torch==2.13.0+cpu' in message
    assert result.task('Probe the GPU where gpu_preflight has not')['cuda_active'] is False
    assert result.changed() == []


def test_removed_torch_is_predicted_then_reinstalled(env_run):
    env_run.pip('uninstall', '--yes', 'torch')
    assert env_run.torch_dist_info() == []

    predicted = env_run.run(check=True)
    assert [t for t in predicted.changed() if t.endswith('Install the chosen PyTorch build')], predicted.changed()
    assert env_run.torch_dist_info() == [], 'check mode installed torch'

    repaired = env_run.run()
    assert [t for t in repaired.changed() if t.endswith('Install the chosen PyTorch build')]
    assert env_run.venv_python('import torch; print(torch.__version__)') == '2.13.0+cpu'


def test_another_torch_build_is_replaced(env_run):
    """Make the installed torch claim to be the cu126 build (its dist-info says so), as if a CUDA build were there.

    The dist-info directory name, its METADATA Version and the RECORD paths are what pip reads to know which build
    is installed and what to remove; the role must see 2.13.0+cu126 where 2.13.0+cpu is wanted and reinstall.
    """
    (info,) = env_run.torch_dist_info()
    site = next(env_run.venv.glob('lib/python*/site-packages'))
    metadata = site / info / 'METADATA'
    metadata.write_text(metadata.read_text().replace('Version: 2.13.0+cpu', 'Version: 2.13.0+cu126', 1))
    record = site / info / 'RECORD'
    record.write_text(record.read_text().replace(info + '/', 'torch-2.13.0+cu126.dist-info/'))
    os.rename(str(site / info), str(site / 'torch-2.13.0+cu126.dist-info'))
    assert env_run.venv_python('import importlib.metadata as m; print(m.version("torch"))') == '2.13.0+cu126'

    repaired = env_run.run()
    assert [t for t in repaired.changed() if t.endswith('Install the chosen PyTorch build')]
    assert env_run.torch_dist_info() == ['torch-2.13.0+cpu.dist-info']
    assert env_run.venv_python('import importlib.metadata as m; print(m.version("torch"))') == '2.13.0+cpu'


def test_venv_from_another_python_is_recreated(env_run):
    cfg = env_run.venv / 'pyvenv.cfg'
    lines = [('version = 3.10.14' if line.startswith('version') else line) for line in cfg.read_text().splitlines()]
    cfg.write_text('\n'.join(lines) + '\n')
    marker = env_run.venv / 'left-by-the-old-venv'
    marker.write_text('x')

    # Only numpy beside torch this time: the point is the rebuild, and every package costs minutes here.
    repaired = env_run.run(gpu_env_packages=['numpy'])
    assert [t for t in repaired.changed() if t.endswith('Remove the venv made by another Python')]
    reason = repaired.task('Say why the venv is rebuilt')['msg']
    assert 'made by Python 3.10.14' in reason, reason
    assert not marker.exists()
    host_version = env_run.venv_python('import platform; print(platform.python_version())')
    assert 'version = %s' % host_version in cfg.read_text()
    assert env_run.venv_python('import torch, numpy; print(torch.__version__)') == '2.13.0+cpu'


def test_directory_that_is_not_a_venv_is_left_alone(tmp_path):
    run = EnvRun(tmp_path)
    run.venv.mkdir(parents=True)
    keep = run.venv / 'important.txt'
    keep.write_text('not a venv')
    result = run.run(expect_rc=2)
    (failure,) = result.failed()
    assert 'holds files but no pyvenv.cfg: %s' % run.venv in failure[1]
    assert keep.read_text() == 'not a venv'
    assert not run.env_file.exists()
