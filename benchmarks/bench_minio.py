# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time minio_object against boto3 and amazon.aws.s3_object on one local moto server, in one run.

For each size (MiB) it times, --repeat times each, medians printed:
  boto3 upload_file + separate MD5 pass (boto3's defaults, and again with the module's default
  request_checksum_calculation=when_required), boto3 download_file + separate MD5 pass,
  minio_object put and get via ansible-playbook (wall time and the module's own `seconds`),
  amazon.aws.s3_object put and get via ansible-playbook,
  unchanged re-put and re-get with both modules, the local MD5 time,
  and the peak resident memory of the minio_object module process.
Figures only; nothing passes or fails on time.

Usage: .venv/bin/python benchmarks/bench_minio.py [--sizes 256,1024] [--repeat 3]
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import local_s3  # noqa: E402  (tools/ is put on sys.path just above)

MIB = 1024 * 1024
BUCKET = 'mt5crs-bench'
PEAK_WRAPPER = r'''#!/bin/sh
# Runs the module under the benchmark's interpreter and records the peak RSS of the process tree.
exec /usr/bin/time -a -f "%%M" -o "%(peak_file)s" "%(python)s" "$@"
'''


def md5_file(path):
    digest = hashlib.md5()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(MIB), b''):
            digest.update(block)
    return digest.hexdigest()


def make_file(path, size_mib):
    with open(path, 'wb') as handle:
        for dummy in range(size_mib):
            handle.write(os.urandom(MIB))


class Bench:
    def __init__(self, work, creds):
        self.work = work
        self.creds = creds
        self.peak_file = os.path.join(work, 'peak-kib.txt')
        self.interpreter = os.path.join(work, 'python-peak')
        with open(self.interpreter, 'w') as handle:
            handle.write(PEAK_WRAPPER % {'peak_file': self.peak_file, 'python': sys.executable})
        os.chmod(self.interpreter, 0o755)
        self.env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
                        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, 'collections'),
                        MT5CRS_VERIFY_LOG_DIR=os.path.join(work, 'verify'), ANSIBLE_NOCOLOR='1')
        import boto3
        from boto3.s3.transfer import TransferConfig
        self.s3 = boto3.client('s3', endpoint_url=creds['endpoint_url'], region_name=creds['region'],
                               aws_access_key_id=creds['access_key'], aws_secret_access_key=creds['secret_key'])
        # The same client with the module's default checksum setting (no CRC32 trailers), for comparison.
        from botocore.config import Config
        self.s3_required = boto3.client('s3', endpoint_url=creds['endpoint_url'], region_name=creds['region'],
                                        aws_access_key_id=creds['access_key'],
                                        aws_secret_access_key=creds['secret_key'],
                                        config=Config(request_checksum_calculation='when_required'))
        self.transfer = TransferConfig()
        self.runs = 0

    def conn(self):
        return dict(endpoint_url=self.creds['endpoint_url'], access_key=self.creds['access_key'],
                    secret_key=self.creds['secret_key'], region=self.creds['region'])

    def playbook(self, module, args, peak=False):
        """Run one task via ansible-playbook; return (wall seconds, result dict, peak KiB or None)."""
        self.runs += 1
        out = os.path.join(self.work, 'result-%d.json' % self.runs)
        interpreter = self.interpreter if peak else sys.executable
        play = [{'hosts': 'localhost', 'gather_facts': False, 'connection': 'local',
                 'vars': {'ansible_python_interpreter': interpreter},
                 'tasks': [{'name': 'Bench', module: args, 'register': 'r'},
                           {'name': 'Keep', 'ansible.builtin.copy': {'content': '{{ r | to_json }}', 'dest': out},
                            'vars': {'ansible_python_interpreter': sys.executable}}]}]
        path = os.path.join(self.work, 'play.yml')
        with open(path, 'w') as handle:
            json.dump(play, handle)
        os.chmod(path, 0o600)
        if os.path.exists(self.peak_file):
            os.unlink(self.peak_file)
        start = time.monotonic()
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                               path], cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False)
        wall = time.monotonic() - start
        if proc.returncode != 0:
            shown = proc.stdout[-3000:].replace(self.creds['secret_key'], '********')
            raise SystemExit('bench: %s failed:\n%s' % (module, shown))
        with open(out) as handle:
            result = json.load(handle)
        peak_kib = None
        if peak and os.path.exists(self.peak_file):
            with open(self.peak_file) as handle:
                values = [int(line) for line in handle.read().split() if line.strip().isdigit()]
            peak_kib = max(values) if values else None
        return wall, result, peak_kib

    def minio(self, **args):
        args.update(self.conn())
        return self.playbook('mt5crs.gpu_orchestrator.minio_object', args, peak=True)

    def amazon(self, **args):
        args.update(self.conn())
        args.update(ceph=True, validate_bucket_name=False)
        return self.playbook('amazon.aws.s3_object', args)

    def drop(self, key):
        self.s3.delete_object(Bucket=BUCKET, Key=key)


def timed(func):
    start = time.monotonic()
    func()
    return time.monotonic() - start


def run_size(bench, size_mib, repeat):
    src = os.path.join(bench.work, 'src-%d.bin' % size_mib)
    dest = os.path.join(bench.work, 'dest-%d.bin' % size_mib)
    make_file(src, size_mib)
    figures = {}

    def add(name, value):
        figures.setdefault(name, []).append(value)

    for dummy in range(repeat):
        add('local md5', timed(lambda: md5_file(src)))

        key = 'boto3-%d' % size_mib
        add('boto3 upload_file + md5', timed(lambda: (bench.s3.upload_file(src, BUCKET, key, Config=bench.transfer),
                                                      md5_file(src))))
        add('boto3 upload_file (when_required) + md5',
            timed(lambda: (bench.s3_required.upload_file(src, BUCKET, key, Config=bench.transfer), md5_file(src))))
        if os.path.exists(dest):
            os.unlink(dest)
        add('boto3 download_file + md5', timed(lambda: (bench.s3.download_file(BUCKET, key, dest,
                                                                               Config=bench.transfer),
                                                        md5_file(dest))))
        bench.drop(key)
        os.unlink(dest)

        key = 'module-%d' % size_mib
        wall, res, peak = bench.minio(mode='put', bucket=BUCKET, key=key, src=src)
        assert res['changed'] and res['bytes_transferred'] == size_mib * MIB, res
        add('module put (playbook)', wall)
        add('module put (module seconds)', res['seconds'])
        add('module peak MiB', peak / 1024.0 if peak else float('nan'))
        wall, res, peak = bench.minio(mode='get', bucket=BUCKET, key=key, dest=dest)
        assert res['changed'] and res['bytes_transferred'] == size_mib * MIB, res
        add('module get (playbook)', wall)
        add('module get (module seconds)', res['seconds'])
        add('module peak MiB', peak / 1024.0 if peak else float('nan'))
        wall, res, _peak = bench.minio(mode='put', bucket=BUCKET, key=key, src=src)
        assert not res['changed'] and res['bytes_transferred'] == 0, res
        add('module unchanged re-put (playbook)', wall)
        add('module unchanged re-put (module seconds)', res['seconds'])
        wall, res, _peak = bench.minio(mode='get', bucket=BUCKET, key=key, dest=dest)
        assert not res['changed'] and res['bytes_transferred'] == 0, res
        add('module unchanged re-get (playbook)', wall)
        add('module unchanged re-get (module seconds)', res['seconds'])
        bench.drop(key)
        os.unlink(dest)

        key = 'amazon-%d' % size_mib
        add('amazon.aws put (playbook)', bench.amazon(mode='put', bucket=BUCKET, object=key, src=src)[0])
        add('amazon.aws get (playbook)', bench.amazon(mode='get', bucket=BUCKET, object=key, dest=dest)[0])
        add('amazon.aws unchanged re-put (playbook)', bench.amazon(mode='put', bucket=BUCKET, object=key, src=src)[0])
        add('amazon.aws unchanged re-get (playbook)', bench.amazon(mode='get', bucket=BUCKET, object=key,
                                                                   dest=dest)[0])
        bench.drop(key)
        os.unlink(dest)

    os.unlink(src)
    return dict((name, statistics.median(values)) for name, values in figures.items())


def noop_playbook_seconds(bench):
    return bench.playbook('ansible.builtin.debug', {'msg': 'noop'})[0]


def report(size_mib, med, noop):
    print('\n== %d MiB (medians, seconds) ==' % size_mib)
    for name in sorted(med):
        unit = '' if 'MiB' in name else ' s'
        print('  %-44s %8.2f%s' % (name, med[name], unit))
    print('  %-44s %8.2f s' % ('empty ansible-playbook run', noop))

    def ratio(a, b):
        return med[a] / med[b] if med.get(b) else float('nan')

    print('  ratios:')
    print('    put  playbook / (boto3 upload + md5)        %.2fx   module seconds: %.2fx'
          % (ratio('module put (playbook)', 'boto3 upload_file + md5'),
             ratio('module put (module seconds)', 'boto3 upload_file + md5')))
    print('    put  module seconds / (boto3 upload with when_required + md5)     %.2fx'
          % ratio('module put (module seconds)', 'boto3 upload_file (when_required) + md5'))
    print('    get  playbook / (boto3 download + md5)      %.2fx   module seconds: %.2fx'
          % (ratio('module get (playbook)', 'boto3 download_file + md5'),
             ratio('module get (module seconds)', 'boto3 download_file + md5')))
    print('    get  playbook / amazon.aws get playbook     %.2fx'
          % ratio('module get (playbook)', 'amazon.aws get (playbook)'))
    print('    put  playbook / amazon.aws put playbook     %.2fx'
          % ratio('module put (playbook)', 'amazon.aws put (playbook)'))
    print('    unchanged re-put module seconds - local md5 %+.2f s'
          % (med['module unchanged re-put (module seconds)'] - med['local md5']))
    print('    unchanged re-get module seconds - local md5 %+.2f s'
          % (med['module unchanged re-get (module seconds)'] - med['local md5']))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='256,1024', help='comma-separated sizes in MiB (default 256,1024)')
    parser.add_argument('--repeat', type=int, default=3, help='runs per figure; medians are printed (default 3)')
    parser.add_argument('--workdir', default=None, help='scratch directory (default: a new temporary one)')
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(',') if s.strip()]
    work = args.workdir or tempfile.mkdtemp(prefix='bench-minio-')
    os.makedirs(work, exist_ok=True)
    server = local_s3.MotoServer(log_path=os.path.join(work, 'server.log'))
    creds = server.start()
    try:
        bench = Bench(work, creds)
        bench.s3.create_bucket(Bucket=BUCKET)
        import boto3
        import botocore
        print('bench_minio: moto server %s, boto3 %s, botocore %s, python %s, %d CPUs, repeat %d'
              % (creds['endpoint_url'], boto3.__version__, botocore.__version__, sys.version.split()[0],
                 os.cpu_count(), args.repeat))
        noop = statistics.median(noop_playbook_seconds(bench) for dummy in range(max(1, min(3, args.repeat))))
        for size in sizes:
            report(size, run_size(bench, size, args.repeat), noop)
            sys.stdout.flush()
    finally:
        server.stop()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
