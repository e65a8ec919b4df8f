# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU smoke test: train a tiny model for a few optimiser steps on the fetched Parquet dataset.

Shipped to GPU hosts by the gpu_smoke role through the review gate (approved_copy), and run with
the venv's Python. Reads the Parquet file with pyarrow, takes every numeric column except the
label as a feature, standardises the features, and fits a linear model (logistic regression when
the label has two values, softmax regression for a few classes, least squares otherwise) with
Adam for --steps full-batch steps on the chosen device.

Output: human-readable lines, then one JSON line (the last line of stdout) with device, rows,
features, steps, loss_before, loss_after and seconds. Exit status 0 when the loss is finite and
went down; 1 on a training failure; 2 on bad input; 3 when --require-cuda is given and CUDA is
not usable.
"""

import argparse
import json
import math
import os
import sys
import time

MAX_CLASSES = 20


class SmokeError(Exception):
    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Train a tiny model on a Parquet dataset for a few steps.')
    parser.add_argument('--data', required=True, help='Parquet file to train on')
    parser.add_argument('--label', default='label', help='label column (default: label)')
    parser.add_argument('--steps', type=int, default=20, help='optimiser steps (default: 20)')
    parser.add_argument('--lr', type=float, default=0.05, help='Adam learning rate (default: 0.05)')
    parser.add_argument('--device', choices=('auto', 'cuda', 'cpu'), default='auto',
                        help='auto takes CUDA when torch can use it, else the CPU (default: auto)')
    parser.add_argument('--require-cuda', action='store_true', help='exit 3 unless training runs on CUDA')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error('--steps must be at least 1, got %d' % args.steps)
    return args


def load_table(path, label):
    """Return (features as float32 numpy array, label numpy array, feature names)."""
    import numpy as np
    import pyarrow.parquet as pq

    if not os.path.isfile(path):
        raise SmokeError('Dataset not found: %s' % path)
    try:
        frame = pq.read_table(path).to_pandas()
    except Exception as exc:
        raise SmokeError('Failed to read Parquet file %s: %s' % (path, exc))
    if label not in frame.columns:
        raise SmokeError('Label column not found: %s (columns: %s)' % (label, list(frame.columns)))

    numeric = frame.select_dtypes(include=[np.number, 'bool']).columns
    features = [c for c in numeric if c != label]
    if not features:
        raise SmokeError('No numeric feature columns besides %s in %s' % (label, path))
    frame = frame[features + [label]].dropna()
    if frame.empty:
        raise SmokeError('No complete rows in %s' % path)
    return frame[features].to_numpy(dtype=np.float32), frame[label].to_numpy(), features


def choose_device(torch, wanted):
    """Return (torch.device, sentence saying which and why)."""
    available = torch.cuda.is_available()
    if wanted == 'cpu':
        return torch.device('cpu'), 'cpu (requested)'
    if available:
        index = torch.cuda.current_device()
        return torch.device('cuda', index), 'cuda:%d (%s, torch %s, CUDA %s)' % (
            index, torch.cuda.get_device_name(index), torch.__version__, torch.version.cuda)
    if torch.version.cuda is None:
        why = 'this torch build (%s) has no CUDA support' % torch.__version__
    else:
        why = 'torch %s was built for CUDA %s but sees no usable GPU' % (torch.__version__, torch.version.cuda)
    if wanted == 'cuda':
        raise SmokeError('CUDA requested but not available: %s' % why, status=3)
    return torch.device('cpu'), 'cpu (CUDA not available: %s)' % why


def build_task(torch, x, y):
    """Return (model, loss function, target tensor on CPU, task name)."""
    import numpy as np

    values = np.unique(y)
    integral = np.all(np.equal(np.mod(values, 1), 0)) if np.issubdtype(values.dtype, np.number) else True
    if len(values) == 2:
        target = torch.from_numpy((y == values.max()).astype(np.float32)).unsqueeze(1)
        return torch.nn.Linear(x.shape[1], 1), torch.nn.BCEWithLogitsLoss(), target, 'binary logistic regression'
    if integral and 2 < len(values) <= MAX_CLASSES:
        index = {v: i for i, v in enumerate(values.tolist())}
        target = torch.tensor([index[v] for v in y.tolist()], dtype=torch.long)
        return (torch.nn.Linear(x.shape[1], len(values)), torch.nn.CrossEntropyLoss(), target,
                'softmax regression (%d classes)' % len(values))
    target = torch.from_numpy(y.astype(np.float32)).unsqueeze(1)
    return torch.nn.Linear(x.shape[1], 1), torch.nn.MSELoss(), target, 'least-squares regression'


def train(args):
    try:
        import torch
    except ImportError as exc:
        raise SmokeError('Failed to import torch in %s: %s' % (sys.executable, exc))

    x, y, features = load_table(args.data, args.label)
    device, device_text = choose_device(torch, args.device)
    if args.require_cuda and device.type != 'cuda':
        raise SmokeError('CUDA required but training would run on %s' % device_text, status=3)
    torch.manual_seed(args.seed)

    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    inputs = torch.from_numpy((x - mean) / std).to(device)
    model, loss_fn, target, task = build_task(torch, x, y)
    model = model.to(device)
    target = target.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)

    started = time.perf_counter()
    with torch.no_grad():
        loss_before = float(loss_fn(model(inputs), target))
    for dummy in range(args.steps):
        optimiser.zero_grad()
        loss = loss_fn(model(inputs), target)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        loss_after = float(loss_fn(model(inputs), target))
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started

    return {
        'device': str(device),
        'device_detail': device_text,
        'cuda_available': bool(torch.cuda.is_available()),
        'torch': torch.__version__,
        'data': os.path.abspath(args.data),
        'rows': int(x.shape[0]),
        'features': features,
        'label': args.label,
        'task': task,
        'steps': args.steps,
        'loss_before': round(loss_before, 6),
        'loss_after': round(loss_after, 6),
        'loss_decreased': loss_after < loss_before,
        'seconds': round(seconds, 4),
    }


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = train(args)
    except SmokeError as exc:
        print('smoke test failed: %s' % exc, file=sys.stderr)
        print(json.dumps({'ok': False, 'error': str(exc)}, sort_keys=True))
        return exc.status

    ok = math.isfinite(result['loss_after']) and result['loss_decreased']
    result['ok'] = ok
    print('device: %s' % result['device_detail'])
    print('data: %s (%d rows, features %s, label %s)' % (result['data'], result['rows'],
                                                         ', '.join(result['features']), result['label']))
    print('model: %s, %d Adam steps' % (result['task'], result['steps']))
    print('loss: %.6f before, %.6f after' % (result['loss_before'], result['loss_after']))
    print('time: %.4f s' % result['seconds'])
    print('result: %s' % ('ok' if ok else 'FAILED: the loss is not finite or did not go down'))
    print(json.dumps(result, sort_keys=True))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
