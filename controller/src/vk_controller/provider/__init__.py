"""The provider side of the controller: the only package of the controller that imports the generated gRPC code."""
