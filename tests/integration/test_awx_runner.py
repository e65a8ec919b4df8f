# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site playbook through ansible-runner, the engine AWX runs jobs with.

The private data directory is laid out the way AWX lays it out for a job:
- project/      the checkout's files as a git clone has them (tracked and not ignored),
- inventory/hosts  an executable script printing the embedded default inventory as AWX imported it
                (`ansible-inventory --list --export`, variables left untemplated),
- env/extravars the site job template's survey answers (its defaults, typed as AWX sends them),
                AWX's own awx_* variables and the job template's extra variables,
- env/envvars   the MinIO credential type's injected variables, rendered from awx/credential_types/minio.yml
                the way AWX renders injectors, for a real moto server, plus the paths AWX derives from
                the project's ansible.cfg.
ansible-runner forces its awx_display stdout callback, as in AWX. The checks: the job is successful,
job events were written, the verify log landed in the job's artifacts directory, and the secret is in
no artifact file.
"""

import configparser
import glob
import json
import os
import stat
import subprocess
import sys
import tempfile

import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conftest import ROOT, md5_of, venv_bin
from test_awx_ee import copy_project

CREDENTIAL_TYPE = os.path.join(ROOT, 'awx', 'credential_types', 'minio.yml')
INJECTED = ('MT5CRS_S3_ENDPOINT_URL', 'MT5CRS_S3_ACCESS_KEY', 'MT5CRS_S3_SECRET_KEY', 'MT5CRS_S3_CA_BUNDLE')
PLAYS = ('Preflight GPU and INF hosts', 'Review every script bound for GPU hosts',
         'Build the training environment on GPU hosts', 'Publish the dataset from the INF host',
         'Fetch the dataset onto GPU hosts', 'Run the approved smoke test on GPU hosts')
BUCKET = 'mt5crs-datasets'
KEY = 'eurusd/h1/eurusd_h1_features.parquet'


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


class _Namespace(object):
    """Attribute bag, like the `tower` namespace AWX hands to injector templates."""


def inject_credential(credential_type, inputs, env_dir):
    """Render a credential type's injectors the way AWX does; return the environment it injects.

    Inputs left empty are undefined in the templates; each file injector is written to a 0600 file
    in env_dir and its path offered as tower.filename.<name>.
    """
    namespace = {key: value for key, value in inputs.items() if value not in ('', None)}
    tower = _Namespace()
    namespace['tower'] = tower
    sandbox = ImmutableSandboxedEnvironment()
    for label, template in credential_type['injectors'].get('file', {}).items():
        fd, path = tempfile.mkstemp(dir=str(env_dir))
        with os.fdopen(fd, 'w') as handle:
            handle.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if '.' in label:
            if not hasattr(tower, 'filename'):
                tower.filename = _Namespace()
            setattr(tower.filename, label.split('.', 1)[1], path)
        else:
            tower.filename = path
    return {name: sandbox.from_string(template).render(**namespace)
            for name, template in credential_type['injectors'].get('env', {}).items()}


def awx_config_env(project_dir, private_data_dir):
    """ANSIBLE_COLLECTIONS_PATH and ANSIBLE_CALLBACKS_ENABLED as AWX derives them from the project's ansible.cfg."""
    config = configparser.ConfigParser()
    config.read(os.path.join(project_dir, 'ansible.cfg'))
    paths = ['~/.ansible/collections', '/usr/share/ansible/collections']
    configured = config.get('defaults', 'collections_path', fallback=None)
    if configured:
        for path in configured.split(':'):
            if path not in paths:
                paths = [configured] + paths
    collections_paths = [os.path.join(private_data_dir, 'requirements_collections')] + paths
    env = {'ANSIBLE_COLLECTIONS_PATH': os.pathsep.join(collections_paths)}
    # AWX adds its own indirect_instance_count callback in front; it exists only inside AWX.
    callbacks = config.get('defaults', 'callbacks_enabled', fallback='')
    if callbacks:
        env['ANSIBLE_CALLBACKS_ENABLED'] = callbacks
    return env


def survey_answers(name):
    """The survey's default answers, typed as AWX passes them to the job."""
    answers = {}
    for question in load_yaml(os.path.join(ROOT, 'awx', 'surveys', name + '.yml'))['spec']:
        if question['type'] == 'multiselect':
            answers[question['variable']] = question['default'].split('\n')
        else:
            answers[question['variable']] = question['default']
    return answers


def write_inventory_script(inventory_dir, project_dir, source):
    """inventory/hosts as AWX writes it: a script printing the imported inventory as JSON."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(str(project_dir), 'ansible.cfg'))
    exported = subprocess.run([venv_bin('ansible-inventory'), '-i', source, '--list', '--export'],
                              cwd=str(project_dir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, check=True).stdout
    data = json.loads(exported)
    path = os.path.join(str(inventory_dir), 'hosts')
    with open(path, 'w') as handle:
        handle.write('#!%s\nimport json\nimport sys\n\n' % sys.executable)
        handle.write('DATA = %s\n\n' % json.dumps(json.dumps(data)))
        handle.write("print(DATA if '--list' in sys.argv else '{}')\n")
    os.chmod(path, 0o700)
    return data


# The credential type on its own (fast)

def test_credential_type_declares_the_secret_and_injects_the_documented_fallbacks():
    credential_type = load_yaml(CREDENTIAL_TYPE)
    fields = {field['id']: field for field in credential_type['inputs']['fields']}
    assert credential_type['kind'] == 'cloud'
    assert fields['secret_key'].get('secret') is True
    assert fields['ca_bundle'].get('multiline') is True
    assert sorted(credential_type['inputs']['required']) == ['access_key', 'endpoint_url', 'secret_key']
    assert sorted(credential_type['injectors']['env']) == sorted(INJECTED)

    with open(os.path.join(ROOT, 'plugins', 'doc_fragments', 's3.py')) as handle:
        documented = handle.read()
    for name in INJECTED:
        assert 'E(%s)' % name in documented, '%s is not a documented fallback' % name


def test_injectors_render_the_ca_bundle_as_a_file_only_when_given(tmp_path):
    credential_type = load_yaml(CREDENTIAL_TYPE)
    inputs = {'endpoint_url': 'https://minio.example.invalid:9000', 'access_key': 'AK', 'secret_key': 'SK'}
    pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'

    env = inject_credential(credential_type, dict(inputs, ca_bundle=pem), tmp_path)
    assert env['MT5CRS_S3_ENDPOINT_URL'] == inputs['endpoint_url']
    assert env['MT5CRS_S3_ACCESS_KEY'] == 'AK' and env['MT5CRS_S3_SECRET_KEY'] == 'SK'
    with open(env['MT5CRS_S3_CA_BUNDLE']) as handle:
        assert handle.read() == pem
    assert stat.S_IMODE(os.stat(env['MT5CRS_S3_CA_BUNDLE']).st_mode) == 0o600

    without = inject_credential(credential_type, inputs, tmp_path)
    assert without['MT5CRS_S3_CA_BUNDLE'] == ''


# The site playbook through ansible-runner

class AwxJob(object):
    """A private data directory laid out as AWX lays it out, for one job template."""

    def __init__(self, tmp, s3_server):
        self.tmp = tmp
        self.pdd = tmp / 'pdd'
        self.project = self.pdd / 'project'
        self.demo = tmp / 'demo'
        self.secret = s3_server.credentials['secret_key']
        for sub in ('project', 'inventory', 'env', 'cp', 'requirements_collections'):
            (self.pdd / sub).mkdir(parents=True, exist_ok=True)
        copy_project(self.project)
        self.inventory = write_inventory_script(self.pdd / 'inventory', self.project, 'inventories/local')

        creds = s3_server.credentials
        injected = inject_credential(load_yaml(CREDENTIAL_TYPE),
                                     {'endpoint_url': creds['endpoint_url'], 'access_key': creds['access_key'],
                                      'secret_key': creds['secret_key'], 'ca_bundle': ''}, self.pdd / 'env')
        revision = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                  check=True).stdout
        envvars = {
            'JOB_ID': '1', 'INVENTORY_ID': '1', 'PROJECT_REVISION': revision.strip(),
            'AWX_HOST': 'https://awx.example.invalid', 'ANSIBLE_RETRY_FILES_ENABLED': 'False',
            'ANSIBLE_SSH_CONTROL_PATH_DIR': str(self.pdd / 'cp'), 'ANSIBLE_FORCE_COLOR': 'True',
            'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
        }
        envvars.update(awx_config_env(str(self.project), str(self.pdd)))
        envvars.update(injected)
        self._write('envvars', envvars)

    def _write(self, name, data):
        path = self.pdd / 'env' / name
        path.write_text(json.dumps(data))
        os.chmod(str(path), 0o600)

    def run(self, ident, template, survey, job_tags=''):
        extravars = {
            'awx_job_id': int(ident), 'awx_job_template_name': template, 'awx_user_name': 'admin',
            'awx_inventory_name': 'local', 'awx_project_revision': '', 'awx_execution_node': 'localhost',
            # The job template's extra variables: the embedded default's directory, and the S3 connection from the
            # MinIO credential (the embedded default otherwise starts its own server).
            'mt5crs_local_root': str(self.demo),
            'mt5crs_local_s3': False,
            'mt5crs_s3_endpoint_url': "{{ lookup('ansible.builtin.env', 'MT5CRS_S3_ENDPOINT_URL') }}",
            'mt5crs_s3_access_key': "{{ lookup('ansible.builtin.env', 'MT5CRS_S3_ACCESS_KEY') }}",
            'mt5crs_s3_secret_key': "{{ lookup('ansible.builtin.env', 'MT5CRS_S3_SECRET_KEY') }}",
        }
        extravars.update(survey_answers(survey))
        self._write('extravars', extravars)

        import ansible_runner
        return ansible_runner.run(private_data_dir=str(self.pdd), playbook='site.yml', ident=ident,
                                  tags=job_tags or None, quiet=True)

    def artifacts(self, ident):
        return self.pdd / 'artifacts' / ident

    def files_holding(self, needle, top):
        """Files under top (a venv's installed packages left out) whose bytes contain needle."""
        hits = []
        for dirpath, dirs, names in os.walk(str(top)):
            dirs[:] = [sub for sub in dirs if sub != 'venv']
            for name in names:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, 'rb') as handle:
                    if needle.encode() in handle.read():
                        hits.append(os.path.relpath(path, str(self.pdd)))
        return hits


@pytest.fixture(scope='module')
def awx_job(tmp_path_factory, s3_server, monkeypatch_module):
    # AWX sets no verify log directory: the callback must find the artifacts directory by itself.
    monkeypatch_module.delenv('MT5CRS_VERIFY_LOG_DIR', raising=False)
    for name in INJECTED:
        monkeypatch_module.delenv(name, raising=False)
    job = AwxJob(tmp_path_factory.mktemp('awx'), s3_server)
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'make_dataset.py'), '--from-backtesting',
                    '--out', str(job.demo / 'inf' / 'eurusd_h1_features.parquet')], check=True)
    return job


@pytest.fixture(scope='module')
def monkeypatch_module():
    patcher = pytest.MonkeyPatch()
    yield patcher
    patcher.undo()


@pytest.fixture(scope='module')
def site_run(awx_job):
    return awx_job.run('1', 'mt5crs site', 'site')


@pytest.mark.slow
def test_site_job_is_successful_with_job_events(awx_job, site_run):
    stdout = site_run.stdout.read()
    assert site_run.status == 'successful' and site_run.rc == 0, stdout[-8000:]

    events = list(site_run.events)
    kinds = {event['event'] for event in events}
    assert {'playbook_on_start', 'playbook_on_play_start', 'runner_on_ok', 'playbook_on_stats'} <= kinds
    plays = {event['event_data'].get('play') for event in events if event['event'] == 'playbook_on_play_start'}
    assert set(PLAYS) <= plays, plays
    hosts = {event['event_data'].get('host') for event in events if event['event'] == 'runner_on_ok'}
    assert {'inf-local', 'gpu-local'} <= hosts
    stats = [event for event in events if event['event'] == 'playbook_on_stats'][-1]['event_data']
    assert not stats.get('failures') and not stats.get('dark'), stats
    assert glob.glob(str(awx_job.artifacts('1') / 'job_events' / '*.json'))


@pytest.mark.slow
def test_site_job_moved_the_dataset_through_the_injected_credential(awx_job, site_run, s3_client):
    source = awx_job.demo / 'inf' / 'eurusd_h1_features.parquet'
    fetched = awx_job.demo / 'gpu' / 'data' / 'eurusd_h1_features.parquet'
    assert md5_of(str(fetched)) == md5_of(str(source))
    # the object sits in the server whose keys only the credential's environment carried
    assert s3_client.head_object(Bucket=BUCKET, Key=KEY)['ContentLength'] == os.path.getsize(str(source))
    assert not (awx_job.demo / 's3').exists()


@pytest.mark.slow
def test_verify_log_lands_in_the_job_artifacts(awx_job, site_run):
    logs = glob.glob(str(awx_job.artifacts('1') / '**' / '*.jsonl'), recursive=True)
    assert len(logs) == 1, logs
    with open(logs[0]) as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    assert {'inf-local', 'gpu-local'} <= {record.get('host') for record in records}
    assert glob.glob(os.path.join(os.path.dirname(logs[0]), '*summary*'))
    assert not glob.glob(str(awx_job.project / 'logs' / 'verify' / '*.jsonl'))
    check = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'verify_log_check.py'), logs[0]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert check.returncode == 0, check.stdout


def runner_own_records(job, ident):
    """Artifact files ansible-runner itself writes with the launch environment in them.

    ansible-runner 2.4 dumps the job's environment, every injected credential included (AWX's built-in
    credentials too), into artifacts/<ident>/command, mode 0600, before ansible-playbook starts; nothing
    the playbook, the collection or its callbacks write is allowed to hold the secret.
    """
    path = job.artifacts(ident) / 'command'
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    return [os.path.relpath(str(path), str(job.pdd))]


@pytest.mark.slow
def test_secret_is_in_no_artifact_file(awx_job, site_run):
    assert awx_job.files_holding(awx_job.secret, awx_job.artifacts('1')) == runner_own_records(awx_job, '1')
    assert awx_job.files_holding(awx_job.secret, awx_job.demo) == []
    assert awx_job.secret not in site_run.stdout.read()


@pytest.mark.slow
def test_phase_job_runs_only_its_phase_with_its_survey(awx_job, site_run):
    run = awx_job.run('2', 'mt5crs preflight', 'preflight', job_tags='preflight')
    stdout = run.stdout.read()
    assert run.status == 'successful', stdout[-8000:]
    plays = {event['event_data'].get('play') for event in run.events if event['event'] == 'playbook_on_play_start'}
    # role argument validation is tagged always; any other task outside the phase must not run
    ran = {event['event_data'].get('play') for event in run.events if event['event'] == 'runner_on_ok'
           and not event['event_data'].get('task_action', '').endswith('validate_argument_spec')}
    assert PLAYS[0] in ran and not ran & set(PLAYS[1:]), (plays, ran)
    assert glob.glob(str(awx_job.artifacts('2') / '**' / '*.jsonl'), recursive=True)
    assert awx_job.files_holding(awx_job.secret, awx_job.artifacts('2')) == runner_own_records(awx_job, '2')
