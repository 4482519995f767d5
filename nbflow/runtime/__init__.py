"""Devices, placement, the plan executor and Session."""
