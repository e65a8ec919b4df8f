# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time the main job on the embedded default: a first run from nothing, then an unchanged rerun.

Prints the wall time of each run and their ratio (target: the rerun at most 25% of the first).
Everything lives in a fresh temporary directory with its own S3 server on a free port, so the
developer's own .demo/ is not touched. Figures only: this never passes or fails on time.

Usage: .venv/bin/python benchmarks/bench_demo.py [--keep]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import local_s3  # noqa: E402


def run_site(root, port, log_dir):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), MT5CRS_VERIFY_LOG_DIR=log_dir,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), 'site.yml', '-i', 'inventories/local',
           '-e', 'mt5crs_local_root=%s' % root, '-e', 'mt5crs_local_s3_port=%d' % port]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-4000:])
        raise SystemExit('site.yml failed (rc=%d)' % proc.returncode)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--keep', action='store_true', help='keep the temporary directory')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='mt5crs-bench-demo-')
    root = os.path.join(work, 'demo')
    port = local_s3.free_port()
    try:
        subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'make_dataset.py'), '--from-backtesting',
                        '--out', os.path.join(root, 'inf', 'eurusd_h1_features.parquet')],
                       check=True, stdout=subprocess.DEVNULL)
        first = run_site(root, port, os.path.join(work, 'verify'))
        second = run_site(root, port, os.path.join(work, 'verify'))
    finally:
        local_s3.stop(os.path.join(root, 's3'))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print('main job, embedded default (%d cores)' % os.cpu_count())
    print('  first run (from nothing):   %7.1f s' % first)
    print('  second run (unchanged):     %7.1f s' % second)
    print('  ratio second/first:         %7.2f  (target <= 0.25)' % (second / first))


if __name__ == '__main__':
    main()
