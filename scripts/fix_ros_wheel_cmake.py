"""Point the ROS 2 wheels' exported CMake files at this environment's Python.

The ros-kilted-* wheels were built under /opt/python/cp311-cp311/ and their
`*Export.cmake` files name that prefix's Python and numpy include folders.
CMake rejects imported targets with missing include paths, so rewrite them to
the running interpreter's folders. Idempotent: files already fixed are left
alone. Prints how many files it changed.
"""
import pathlib
import sys
import sysconfig

import numpy

BUILD_PREFIX = '/opt/python/cp311-cp311'


def replacements():
    py_inc = sysconfig.get_paths()['include']
    np_inc = numpy.get_include()
    return [
        (f'{BUILD_PREFIX}/lib/python3.11/site-packages/numpy/_core/include', np_inc),
        (f'{BUILD_PREFIX}/include/python3.11', py_inc),
    ]


def main(prefix: str) -> int:
    changed = 0
    pairs = replacements()
    for path in pathlib.Path(prefix, 'share').glob('*/cmake/*.cmake'):
        text = path.read_text()
        if BUILD_PREFIX not in text:
            continue
        new = text
        for old, repl in pairs:
            new = new.replace(old, repl)
        if new != text:
            path.write_text(new)
            changed += 1
    print(f'fix_ros_wheel_cmake: {changed} file(s) rewritten')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else sys.prefix))
