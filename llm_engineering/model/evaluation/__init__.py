"""Evaluation of the twin: does each model version write like its author, and which one serves?

One module per metric, each documenting what its figure means:

- :mod:`.perplexity`: author perplexity (lower is better);
- :mod:`.style`: stylometric style distance (lower is better);
- :mod:`.similarity`: embedding cosine similarity with the references (higher is better);
- :mod:`.attribution`: attribution rate of an author classifier, with its own accuracy;
- :mod:`.rouge`: ROUGE-L F1 with the references (higher is better);
- :mod:`.retrieval`: hit@k and MRR of the feature store;
- :mod:`.judge`: an LLM judge's 1-3 scores, when an endpoint is configured;
- :mod:`.generated`: loop rate, ended before the token limit, distinct-2 (no reference needed).

Every score has a bootstrap 95% interval (:mod:`.intervals`). :mod:`.plan` checks the inputs
(and that the test documents are held out from every evaluated version's training data),
:mod:`.answer` has each version answer in the served and bare arms, :mod:`.score` scores;
:mod:`.promotion` decides which version becomes production (guarded by loop rate and style
distance against the base model); :mod:`.tuning` chooses the decoding defaults on the dev
split (``bench/decoding.py``); :mod:`.report` prints the table (:func:`~.report.format_table`), renders the HTML
report and saves the JSON. Nothing here imports ZenML.
"""
