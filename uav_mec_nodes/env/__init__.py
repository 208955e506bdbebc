"""The MDP (29)-(31) as a Gymnasium environment."""
from uav_mec_nodes import ENV_ID  # noqa: F401  (declared where the package registers it with Gymnasium)
from uav_mec_nodes.env.uav_mec_env import UavMecEnv  # noqa: F401
from uav_mec_nodes.env.batched import BatchedUavMecEnv  # noqa: F401
