"""The MDP (29)-(31) as a Gymnasium environment."""
from uav_mec_nodes.env.uav_mec_env import UavMecEnv  # noqa: F401

ENV_ID = 'UavMec-v0'
from uav_mec_nodes.env.batched import BatchedUavMecEnv  # noqa: F401,E402
