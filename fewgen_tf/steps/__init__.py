"""Steps that several pipelines share (train a generator, meta-learn, evaluate a
few-shot generator). A pipeline wires steps; pipelines never import each other."""
