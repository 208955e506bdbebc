"""The system model of Meng & Li, made exact by shared SPEC.md (numpy only, no ROS).

Each module holds the equations named in its docstring; `slot.evaluate_slot`
puts them together for one slot.
"""
