"""How a task's slot ends: the codes of TaskReport.STATE_* and of its drop reasons, declared once for
model/slot.py (which re-exports them) and its compiled kernels (model/slot_kernels.py)."""

COMPLETED, LATE, DROPPED = 0, 1, 2          # TaskReport.STATE_*
STATE_NAMES = ('completed', 'late', 'dropped')
DROP_NONE, DROP_SERVING_DOWN, DROP_NO_TARGET = 0, 1, 2
DROP_REASONS = ('', 'serving UAV down at slot start', 'serving UAV failed and no live migration target')
NO_MIGRATION = -1
