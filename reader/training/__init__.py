"""Training-side code: MNIST loading, model definitions, augmentation, fitting, export, reports.

Everything here except `mnist` imports TensorFlow; the live reader never imports this package
beyond `mnist`.
"""
