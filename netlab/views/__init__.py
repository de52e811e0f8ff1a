"""Pictures and widgets: diagrams, charts and the explorer, drawn from the model.

Owns the matplotlib diagrams and charts (:mod:`.plot`) and the ipywidgets explorer
(:mod:`.widgets`). Imported only when a view is used, so ``import netlab`` stays light.
"""
