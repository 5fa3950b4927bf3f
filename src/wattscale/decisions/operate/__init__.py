"""Operating policies: rule-based control (optimal dispatch and MPC plug in here too)."""
