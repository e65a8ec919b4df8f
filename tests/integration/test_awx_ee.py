# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml through `ansible-builder create`, and what AWX's project update installs.

No image is built: the build context is checked instead, and its galaxy stage is replayed offline
(the collection tarball installs from the context with ansible-galaxy, as the Containerfile does).
"""

import fnmatch
import glob
import importlib.metadata
import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT, venv_bin

PINNED = ('ansible-core', 'ansible-runner', 'boto3', 'botocore', 'pyarrow')
# Namespaces whose modules need no entry in collections/requirements.yml
BUILT_IN = ('ansible.builtin', 'ansible.legacy', 'mt5crs.gpu_orchestrator')
FQCN_KEY = re.compile(r'^\s*(?:-\s+)?([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+:', re.M)


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def copy_project(dest):
    """Copy what a clone of the checkout holds (tracked files plus new, not ignored ones) to dest."""
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                            stdout=subprocess.PIPE, check=True).stdout.decode().split('\0')
    for rel in filter(None, listed):
        src = os.path.join(ROOT, rel)
        if not os.path.lexists(src):
            continue
        target = os.path.join(str(dest), rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)


def galaxy_version():
    return load_yaml(os.path.join(ROOT, 'galaxy.yml'))['version']


@pytest.fixture(scope='module')
def context(tmp_path_factory):
    """A build context made by ansible-builder from a copy of the EE file beside a fresh tarball."""
    work = tmp_path_factory.mktemp('ee')
    shutil.copy(os.path.join(ROOT, 'execution-environment.yml'), str(work))
    # Build from a snapshot: files others edit meanwhile would otherwise break the tarball's checksums.
    snapshot = work / 'source'
    copy_project(snapshot)
    subprocess.run([venv_bin('ansible-galaxy'), 'collection', 'build', '--output-path', str(work / 'build'),
                    str(snapshot)], cwd=str(snapshot), check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc = subprocess.run([venv_bin('ansible-builder'), 'create', '-f', 'execution-environment.yml',
                           '-c', 'context', '--output-filename', 'Containerfile'],
                          cwd=str(work), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    assert 'No matches' not in proc.stdout and 'does not exist' not in proc.stdout, proc.stdout
    return work / 'context'


def test_context_has_the_containerfile_and_requirement_files(context):
    for name in ('Containerfile', '_build/requirements.yml', '_build/requirements.txt', '_build/bindep.txt',
                 '_build/collections/mt5crs-gpu_orchestrator-%s.tar.gz' % galaxy_version()):
        assert (context / name).is_file(), name
    containerfile = (context / 'Containerfile').read_text()
    assert 'ansible-galaxy collection install' in containerfile
    assert 'introspect' in containerfile


def test_python_pins_are_the_versions_the_tests_run_with(context):
    containerfile = (context / 'Containerfile').read_text()
    install_refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M).group(1).split()
    requirements = (context / '_build' / 'requirements.txt').read_text()
    pip_lines = [line.split('#')[0].strip() for line in requirements.splitlines()]
    pins = dict(ref.split('==', 1) for ref in install_refs + [line for line in pip_lines if line])
    for name in PINNED:
        assert pins.get(name) == importlib.metadata.version(name), (name, pins.get(name))


def test_galaxy_stage_installs_the_collection_offline(context, tmp_path):
    build_dir = context / '_build'
    proc = subprocess.run([venv_bin('ansible-galaxy'), 'collection', 'install', '-r', 'requirements.yml',
                           '-p', str(tmp_path / 'collections')],
                          cwd=str(build_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    installed = tmp_path / 'collections' / 'ansible_collections' / 'mt5crs' / 'gpu_orchestrator'
    manifest = (installed / 'MANIFEST.json').read_text()
    assert '"version": "%s"' % galaxy_version() in manifest
    for path in ('roles/gpu_preflight/tasks/main.yml', 'playbooks/site.yml', 'plugins/modules/parquet_info.py'):
        assert (installed / path).is_file(), path
    assert not (installed / '.venv').exists() and not (installed / 'collections').exists()

    # builder's own introspection merges the context's requirement files without complaint
    proc = subprocess.run([venv_bin('python'), str(build_dir / 'scripts' / 'introspect.py'), 'introspect',
                           str(tmp_path / 'collections'), '--user-pip', str(build_dir / 'requirements.txt'),
                           '--user-bindep', str(build_dir / 'bindep.txt'),
                           '--write-pip', str(tmp_path / 'pip.txt'), '--write-bindep', str(tmp_path / 'bindep.txt')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    assert 'pyarrow==' in (tmp_path / 'pip.txt').read_text()


def project_requirements():
    data = load_yaml(os.path.join(ROOT, 'collections', 'requirements.yml'))
    assert isinstance(data, dict) and isinstance(data.get('collections'), list)
    return {entry['name'] if isinstance(entry, dict) else entry for entry in data['collections']}


def test_project_requirements_install_offline(tmp_path):
    if project_requirements():
        pytest.skip('collections/requirements.yml lists collections that only a Galaxy server can supply')
    proc = subprocess.run([venv_bin('ansible-galaxy'), 'collection', 'install', '-r',
                           os.path.join(ROOT, 'collections', 'requirements.yml'), '-p', str(tmp_path), '--offline'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_every_collection_the_job_calls_is_a_project_requirement_and_in_the_ee():
    used = {}
    paths = [os.path.join(ROOT, 'site.yml')] + glob.glob(os.path.join(ROOT, 'playbooks', '*.yml'))
    for sub in ('tasks', 'handlers'):
        paths += glob.glob(os.path.join(ROOT, 'roles', '*', sub, '*.yml'))
    for path in paths:
        with open(path) as handle:
            for namespace in FQCN_KEY.findall(handle.read()):
                if namespace not in BUILT_IN:
                    used.setdefault(namespace, os.path.relpath(path, ROOT))
    required = project_requirements()
    missing = {name: where for name, where in used.items() if name not in required}
    assert not missing, 'called but not in collections/requirements.yml: %s' % missing

    ee = load_yaml(os.path.join(ROOT, 'execution-environment.yml'))
    in_ee = {entry['name'] for entry in ee['dependencies']['galaxy']['collections']}
    assert required <= in_ee, required - in_ee
    assert 'collections/mt5crs-gpu_orchestrator-%s.tar.gz' % galaxy_version() in in_ee


def test_collection_tarball_leaves_out_what_git_ignores():
    """`make build` packs the checkout itself for the EE: nothing git ignores may go into the image.

    Every path git ignores here (caches, logs, a real vault file) must match galaxy.yml's build_ignore,
    the way ansible-galaxy matches it (fnmatch on the path relative to the collection root).
    """
    patterns = ['.git', '*.pyc', '*.retry', 'tests/output', 'mt5crs-gpu_orchestrator-*.tar.gz']
    patterns += load_yaml(os.path.join(ROOT, 'galaxy.yml')).get('build_ignore', [])
    ignored = subprocess.run(['git', 'ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'],
                             cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout.decode().split('\0')
    packed = []
    for path in filter(None, ignored):
        path = path.rstrip('/')
        parts = path.split('/')
        if '__pycache__' in parts:
            continue  # ansible-galaxy always skips these directories
        prefixes = ['/'.join(parts[:end]) for end in range(1, len(parts) + 1)]
        if not any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes for pattern in patterns):
            packed.append(path)
    assert not packed, 'git ignores these, but galaxy.yml build_ignore does not: %s' % packed
