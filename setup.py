"""setuptools install of the pure-Python core, for machines without ROS 2.

The ROS 2 build (messages, nodes, launch files) goes through CMakeLists.txt
(ament_cmake, as colcon uses it; `make setup` runs it into .venv). This file
lets `pip install .` give the model, the Gymnasium environment, the learners
and the `uav-mec` command on a machine without ROS, e.g. a GPU box for
training; launch/ and config/ go to share/uav_mec_nodes as in a ROS install.
"""
from glob import glob

from setuptools import find_packages, setup

package_name = 'uav_mec_nodes'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(include=[package_name, f'{package_name}.*']),
    package_data={package_name: ['model/*.json', 'policies/data/*.pt', 'graph/dds/*.xml']},
    data_files=[
        (f'share/{package_name}', ['package.xml']),
        (f'share/{package_name}/launch', glob('launch/*.launch.py')),
        (f'share/{package_name}/config', glob('config/*.yaml')),
    ],
    python_requires='>=3.10',
    install_requires=['numpy', 'scipy', 'pyyaml', 'transforms3d', 'gymnasium', 'torch',
                      'matplotlib', 'tqdm', 'rosbags'],
    maintainer='uav_mec_nodes maintainers',
    maintainer_email='maintainers@uav-mec-nodes.org',
    description='Robust DNN partitioning and task offloading in multi-UAV MEC against UAV failures',
    license='Apache-2.0',
    entry_points={'console_scripts': ['uav-mec = uav_mec_nodes.cli:main']},
)
