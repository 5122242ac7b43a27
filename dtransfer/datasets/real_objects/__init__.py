"""real_objects: Coil100-Augmented-style transforms of real photographs."""
