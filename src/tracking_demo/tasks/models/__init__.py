"""Model definitions the tasks train: the MNIST networks and the housing network and its
portable pyfunc wrapper."""
