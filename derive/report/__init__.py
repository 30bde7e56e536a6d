"""derive.report: LaTeX/PDF derivation reports, one per model, and the catalog book.

==================  ==========================================================================================
``data``            what a report is made of: :class:`ReportData` (gathered) and :class:`Rendered` (typeset)
``gather``          collect a model's derivation, kernel, verification and plot data from the modules that make them
``sections``        the registry of a model's report sections, in order (name, heading, TeX of the gathered data)
``shared``          the chapter of a model with shared weights (convolution, recurrence); dispatch on spec.kind
``shared_layers``   what its layers compute: the definition steps and a picture of each layer
``shared_steps``    its key steps (found by label, with a sentence each) and symbols renamed for the page
``pictures``        TikZ pictures from the spec's sizes: the sliding kernel, the pooling windows, the unrolled RNN
``notation``        the model card and the Notation section
``model``           the forward pass and the cost
``derivation``      the derivation section (by :class:`~derive.core.steps.Role`) and the summary line
``evidence``        the kernel listing and the verification table
``plot_section``    the Plots section; ``plots`` draws the pgfplots pictures
``layout``          the layout rules: prose, displayed equations, derivations, tables, listings, the template
``maths``           the index symbols and small SymPy-to-TeX pieces the sections share
``body``            one model's report body (:func:`render_model`)
``figures``         figures typeset once into ``<slug>-figures.pdf``, or placed inline
``documents``       the complete documents: one model's article, the catalog book
``build``           :func:`build_reports`: worker processes, compile threads, the files written
==================  ==========================================================================================

Importing this package loads no SymPy: the names below are imported on first use.
"""

from numeric.lazy import lazy_exports

#: public name -> the module that defines it (imported on first use)
_LAZY = {
    "HEADINGS": "derive.report.sections",
    "SECTIONS": "derive.report.sections",
    "Section": "derive.report.sections",
    "body_tex": "derive.report.sections",
    "ReportData": "derive.report.data",
    "Rendered": "derive.report.data",
    "render_model": "derive.report.body",
    "FigureFile": "derive.report.figures",
    "compile_figures": "derive.report.figures",
    "place_figures": "derive.report.figures",
    "catalog_document": "derive.report.documents",
    "model_document": "derive.report.documents",
    "load_template": "derive.report.layout",
    "Outcome": "derive.report.build",
    "build_reports": "derive.report.build",
    "write_document": "derive.report.build",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = sorted(_LAZY)
