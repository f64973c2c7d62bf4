"""What ships and when to say UNKNOWN: calibration, paired tests, intervals and the abstain threshold.

One decision, taken once, on validation only (train.py): candidates run cheapest first (the TF-IDF
baseline, the fine-tune, the ensemble), and a costlier one replaces the current choice only when an
exact McNemar test on the paired validation predictions says it is significantly better. A
difference that could be noise never buys a costlier model. evaluate.py then reports the test set
with percentile-bootstrap intervals, and the abstain threshold is chosen on validation together with
shipped off-topic sentences, so the Space refuses "what's the weather in Paris tomorrow?".

Dependency-light (numpy only) and without a `from __future__` import on purpose: codegen embeds
this source in the generated, standalone train.py and evaluate.py.
"""

import math

import numpy as np

ALPHA = 0.05  # McNemar significance level for the ship decision
# The abstain threshold must still answer this share of validation rows. 98 %, not 97 %: a threshold
# cut at exactly 97 % of validation answers fewer than that on new data about half the time (BANKING77:
# 96.8 % of test at 97 %, 97.8 % at 98 %), and people are promised that nearly all in-domain texts get an answer.
COVERAGE_TARGET = 0.98
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 1234
BOOTSTRAP_LEVEL = 0.95
BOOTSTRAP_METHOD = f"percentile bootstrap over test rows, {BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}"
CANDIDATE_NAMES = {"baseline": "TF-IDF baseline", "finetuned": "fine-tune", "ensemble": "fine-tune + TF-IDF ensemble"}
TEMPERATURE_GRID = np.geomspace(0.05, 20.0, 121)  # coarse log grid, then refined around the best


# ---------------------------------------------------------------------------------------------
# Calibration


def _nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean cross-entropy of softmax(logits / temperature) against the true classes, smoothed by
    Laplace's rule of succession: 1/(n+2) of each row's weight goes to the other classes.

    Without it, a validation split the model gets all right drives T towards 0 and every confidence
    to exactly 1, and no threshold can then tell in-domain text from off-topic text. With n rows and
    no error, the next row is still wrong with probability about 1/(n+2); on a split with real errors
    the smoothing changes T very little.
    """
    n, k = logits.shape
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    true = log_probs[np.arange(n), y]
    smoothing = 1.0 / (n + 2)
    others = (log_probs.sum(axis=1) - true) / (k - 1)
    return float(-((1.0 - smoothing) * true + smoothing * others).mean())


def fit_temperature(logits, y) -> float:
    """The softmax temperature T > 0 minimising the (smoothed) validation log-loss: temperature scaling.

    Dividing logits by T changes no prediction, only how confident they are; 1.0 when there is
    nothing to fit on.
    """
    logits, y = np.asarray(logits, dtype=float), np.asarray(y, dtype=int)
    if len(y) == 0 or logits.ndim != 2 or logits.shape[1] < 2:
        return 1.0
    losses = [_nll(logits, y, t) for t in TEMPERATURE_GRID]
    best = int(np.argmin(losses))
    low, high = TEMPERATURE_GRID[max(best - 1, 0)], TEMPERATURE_GRID[min(best + 1, len(TEMPERATURE_GRID) - 1)]
    fine = np.geomspace(low, high, 41)  # between the best grid point's neighbours
    return float(fine[int(np.argmin([_nll(logits, y, t) for t in fine]))])


# ---------------------------------------------------------------------------------------------
# Paired tests and intervals (y values are class indices)


def mcnemar_p(correct_a, correct_b) -> float:
    """Exact two-sided McNemar p-value: a binomial test (p = 1/2) on the discordant pairs.

    b = rows only A gets right, c = rows only B gets right; with no discordant pair the models are
    indistinguishable and p = 1.
    """
    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    n = b + c
    if n == 0:
        return 1.0
    log_half = n * math.log(0.5)
    tail = sum(math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + log_half)
               for k in range(min(b, c) + 1))
    return float(min(1.0, 2.0 * tail))


def accuracy_of(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else 0.0


def macro_f1_of(y_true, y_pred) -> float:
    """Macro-F1 over the classes present in y_true (evaluate.py's definition), fast enough to resample."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if len(y_true) == 0:
        return 0.0
    k = int(max(y_true.max(), y_pred.max())) + 1
    hits = np.bincount(y_true[y_true == y_pred], minlength=k)
    truth, predicted = np.bincount(y_true, minlength=k), np.bincount(y_pred, minlength=k)
    present = truth > 0
    return float((2.0 * hits[present] / (truth[present] + predicted[present])).mean())


def _resamples(n: int, resamples: int, seed: int):
    """Row indices of each bootstrap resample; one seed, so every model sees the same resamples."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield rng.integers(0, n, n)


def _percentiles(values: list[float], level: float) -> list[float]:
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return [float(low), float(high)]


def bootstrap_interval(y_true, y_pred, metric=accuracy_of, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED, level: float = BOOTSTRAP_LEVEL) -> list[float]:
    """[low, high] percentile-bootstrap interval of metric(y_true, y_pred) over resampled rows."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        return [0.0, 0.0]
    values = [metric(y_true[i], y_pred[i]) for i in _resamples(len(y_true), resamples, seed)]
    return _percentiles(values, level)


def paired_bootstrap_diff(y_true, pred_a, pred_b, metric=accuracy_of, resamples: int = BOOTSTRAP_RESAMPLES,
                          seed: int = BOOTSTRAP_SEED, level: float = BOOTSTRAP_LEVEL) -> list[float]:
    """[low, high] interval of metric(A) - metric(B), both scored on the same resampled rows."""
    y_true, pred_a, pred_b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    if len(y_true) == 0:
        return [0.0, 0.0]
    values = [metric(y_true[i], pred_a[i]) - metric(y_true[i], pred_b[i])
              for i in _resamples(len(y_true), resamples, seed)]
    return _percentiles(values, level)


# ---------------------------------------------------------------------------------------------
# The ship decision


def choose_shipped(val_pred: dict, y_val, candidates, alpha: float = ALPHA, finetuned_weight=None) -> dict:
    """What ships, decided on validation: the cheapest candidate, unless a costlier one is
    significantly (McNemar, `alpha`) and actually more accurate than the current choice.

    val_pred maps each candidate to its predicted classes on the validation rows; candidates are
    listed cheapest first. Returns the decision train_metrics.json records.
    """
    y = np.asarray(y_val, dtype=int)
    correct = {name: np.asarray(val_pred[name], dtype=int) == y for name in candidates}
    accuracy = {name: accuracy_of(y, val_pred[name]) for name in candidates}
    shipped, comparisons = candidates[0], []
    for costlier in candidates[1:]:
        p_value = mcnemar_p(correct[shipped], correct[costlier])
        gain = accuracy[costlier] - accuracy[shipped]
        comparisons.append({"cheaper": shipped, "costlier": costlier, "val_gain_points": round(100.0 * gain, 2),
                            "p_value": p_value, "significant": bool(p_value < alpha)})
        if p_value < alpha and gain > 0:
            shipped = costlier
    return {"shipped": shipped, "candidates": list(candidates), "val_accuracy": accuracy,
            "finetuned_weight": finetuned_weight, "alpha": alpha, "comparisons": comparisons,
            "reason": decision_reason(shipped, comparisons)}


def decision_reason(shipped: str, comparisons: list[dict]) -> str:
    """One plain sentence: what ships, and the validation comparison behind each step."""
    name = CANDIDATE_NAMES.get
    if not comparisons:
        return f"The {name(shipped)} ships: it was the only candidate."
    steps = []
    for c in comparisons:
        costlier, cheaper, gain = name(c["costlier"]), name(c["cheaper"]), c["val_gain_points"]
        said = f"the {costlier} scored {gain:+.1f} points against the {cheaper}"
        test = f"McNemar p = {c['p_value']:.2g}"
        if c["significant"] and gain > 0:
            steps.append(f"{said}, a significant gain ({test})")
        elif c["significant"]:
            steps.append(f"{said}, significantly worse ({test})")
        else:
            steps.append(f"{said}, not significant ({test}), so the cheaper {cheaper} is kept")
    return f"The {name(shipped)} ships: on validation, " + "; ".join(steps) + "."


# ---------------------------------------------------------------------------------------------
# Abstention


def choose_threshold(val_conf, val_correct, ood_conf, coverage_target: float = COVERAGE_TARGET) -> float:
    """The confidence below which the shipped model says UNKNOWN (confidence >= threshold answers).

    Among thresholds that still answer at least `coverage_target` of the validation rows, the one
    maximising (share of off-topic sentences refused - share of validation rows refused); ties go to
    the lower threshold. Without off-topic sentences nothing is worth refusing, so it is 0.0.
    `val_correct` must line up with `val_conf` (it is checked, not scored: the rule trades
    in-domain answers for off-topic refusals, whatever the answers' correctness).
    """
    val = np.sort(np.asarray(val_conf, dtype=float))
    ood = np.sort(np.asarray(ood_conf, dtype=float))
    if len(np.asarray(val_correct)) != len(val):
        raise ValueError("val_conf and val_correct must have one entry per validation row")
    if len(val) == 0:
        return 0.0
    candidates = np.unique(np.r_[0.0, val, ood])  # the objective only changes at observed confidences
    refused_val = np.searchsorted(val, candidates, side="left") / len(val)
    refused_ood = np.searchsorted(ood, candidates, side="left") / len(ood) if len(ood) else 0.0 * candidates
    allowed = 1.0 - refused_val >= coverage_target - 1e-12
    score = np.where(allowed, refused_ood - refused_val, -np.inf)
    return float(candidates[int(np.argmax(score))])  # argmax: the first (lowest) of equal scores


# Off-topic sentences for choosing and testing the abstain threshold: weather, trivia, cooking,
# sports, science, travel, small talk, writing, code, maths, health and more. Nothing about banking,
# payments, purchases, parcels or customer service: users' data sets are often exactly there.
OFF_TOPIC = [
    # weather
    "What's the weather in Paris tomorrow?", "Will it rain in Seattle this weekend?",
    "How hot does it get in Cairo in July?", "Is it going to snow in Denver tonight?",
    "Tell me the forecast for Tokyo on Friday.", "How humid is Singapore in August?",
    "Do I need an umbrella in London today?", "What causes thunderstorms in the summer?",
    "It's freezing outside this morning.", "Why is the sky blue on a clear day?",
    # history and trivia
    "Who painted the Mona Lisa?", "When did the Roman Empire fall?",
    "Who was the first person to walk on the moon?", "What year did the Berlin Wall come down?",
    "Which river flows through Budapest?", "Who wrote Pride and Prejudice?",
    "How tall is the Eiffel Tower?", "What is the capital of Australia?",
    "Name the longest river in Africa.", "Shakespeare wrote Hamlet around the year 1600.",
    # cooking
    "How long should I boil an egg for a runny yolk?", "Give me a recipe for banana bread.",
    "What can I cook with chickpeas and spinach?", "How do you make fresh pasta without a machine?",
    "Is it safe to eat raw cookie dough?", "What spices go well with roasted carrots?",
    "How do I keep basil fresh for longer?", "Preheat the oven to 200 degrees and grease the tray.",
    "What's the difference between baking soda and baking powder?", "Can I use honey instead of sugar in muffins?",
    # sports
    "Who won the football world cup in 1998?", "How many players are on a basketball team?",
    "What is the offside rule in soccer?", "When are the next Olympic Games?",
    "Who holds the record for the fastest marathon?", "How long does a tennis match at Wimbledon last?",
    "Explain the rules of cricket in simple terms.", "Which team has won the most Super Bowls?",
    "How do I improve my swimming technique?", "What a goal in the last minute of the game!",
    # science
    "The mitochondria is the powerhouse of the cell.", "How do black holes form?",
    "What is the speed of light in a vacuum?", "Why do leaves change colour in autumn?",
    "Explain photosynthesis to a ten-year-old.", "How does a vaccine train the immune system?",
    "What is the boiling point of water at high altitude?", "Why does ice float on water?",
    "How far away is the nearest star?", "What are protons made of?",
    # travel
    "What should I see in Rome in two days?", "Is Iceland worth visiting in winter?",
    "What language do they speak in Brazil?", "How long is the flight from London to New York?",
    "Which beaches in Portugal are best for surfing?", "What is the best time of year to visit Kyoto?",
    "What are the must-try foods in Mexico City?", "How high is Mount Kilimanjaro?",
    "Recommend a scenic hiking trail in the Alps.", "Is the tap water safe to drink in Vienna?",
    # small talk
    "Hi, how are you doing today?", "Tell me a joke about penguins.",
    "What's your favourite colour?", "I had a great weekend at the lake.",
    "Do you like dogs or cats better?", "Good morning! Did you sleep well?",
    "I'm bored, what should I do this afternoon?", "Happy birthday to my best friend!",
    "That movie last night was amazing.", "Are you a robot?",
    # writing and poetry
    "Write a haiku about autumn leaves.", "Compose a short poem about the sea.",
    "Give me a rhyme for the word orange.", "Write a limerick about a sleepy cat.",
    "Suggest a title for my fantasy novel.", "Translate this poem into French.",
    "What is a sonnet?", "Draft a toast for my sister's wedding.",
    "Describe a sunset in three sentences.", "Who wrote the poem The Raven?",
    # code
    "How do I reverse a list in Python?", "What is a closure in JavaScript?",
    "Write a SQL query that counts rows per group.", "Explain recursion with a simple example.",
    "What does git rebase do?", "How do I center a div with CSS?",
    "What is the difference between a tuple and a list?", "Sort these integers from largest to smallest.",
    "Why does my while loop never end?", "What is Big O notation?",
    # maths
    "What is the square root of 144?", "Solve 3x + 7 = 22 for x.",
    "What is 17 times 23?", "Is 91 a prime number?",
    "What is the derivative of x squared?", "How many degrees are in a triangle?",
    "Convert 100 Fahrenheit to Celsius.", "What is the area of a circle with radius 5?",
    "Explain the Pythagorean theorem.", "What is pi to ten decimal places?",
    # health
    "How many hours of sleep does an adult need?", "What are the symptoms of the flu?",
    "Is it healthy to run every day?", "How much water should I drink in a day?",
    "What stretches ease lower back pain?", "Are eggs good for breakfast?",
    "How can I stop snoring?", "What vitamins are found in oranges?",
    "How do I treat a mild sunburn?", "Why do I get headaches in the afternoon?",
    # geography
    "What is the largest desert in the world?", "How many countries are in Africa?",
    "Which ocean is the deepest?", "Where is Mount Everest?",
    "What is the population of Canada?", "Which country has the most islands?",
    "What is the smallest country in Europe?", "Name three rivers in South America.",
    "How big is Lake Baikal?", "Volcanoes form where tectonic plates meet.",
    # music
    "Who composed the Moonlight Sonata?", "How do I tune a guitar by ear?",
    "What chords are in a blues progression?", "Recommend some relaxing jazz albums.",
    "How many keys does a piano have?", "Who sang Bohemian Rhapsody?",
    "What is the difference between a violin and a viola?", "The orchestra tuned their instruments before the concert.",
    "Teach me a simple song on the ukulele.", "What genre is Bob Marley known for?",
    # films and books
    "Who directed Jurassic Park?", "Recommend a good science fiction film.",
    "How many Harry Potter books are there?", "What is the plot of Moby Dick?",
    "Which actor played Gandalf?", "Is the book better than the film?",
    "What should I watch tonight?", "Which film won best picture last year?",
    "Summarise the story of Romeo and Juliet.", "Name a classic black and white comedy.",
    # animals and nature
    "How many legs does a spider have?", "Why do cats purr?",
    "How long do elephants live?", "Can penguins fly?",
    "What do koalas eat?", "My cat keeps knocking plants off the windowsill.",
    "How fast can a cheetah run?", "Do fish ever sleep?",
    "Why do birds migrate south?", "What is the biggest animal that ever lived?",
    # space
    "Jupiter has at least ninety-five known moons.", "How old is the universe?",
    "When is the next solar eclipse?", "Could humans live on Mars?",
    "What is a light year?", "Why does the moon have phases?",
    "How hot is the surface of the sun?", "What are Saturn's rings made of?",
    "How many astronauts are on the space station?", "Is Pluto still a planet?",
    # language
    "How do you say good night in Italian?", "What does the word serendipity mean?",
    "Is it affect or effect in this sentence?", "What is the plural of cactus?",
    "How many languages are spoken in India?", "Give me a synonym for happy.",
    "Where does the word robot come from?", "Conjugate the Spanish verb tener.",
    "Spell the word necessary.", "Is Mandarin hard to learn?",
    # philosophy and odd inputs
    "What is the meaning of life?", "Do you think free will exists?",
    "Is it better to be kind or to be right?", "What did Socrates believe about knowledge?",
    "If a tree falls in a forest, does it make a sound?", "asdf qwerty zxcv 12345",
    "The quick brown fox jumps over the lazy dog.", "Let's play chess tomorrow afternoon.",
    "Rainbows appear when sunlight is refracted by water droplets.", "Which planet has the most moons?",
    # gardening
    "When should I plant tomatoes?", "How often do I water a cactus?",
    "Why are my rose leaves turning yellow?", "How do I get rid of aphids naturally?",
    "What flowers attract bees?", "How do I build a compost heap?",
    "Can I grow lemons indoors?", "What is the best soil for succulents?",
    "How do you prune an apple tree?", "Paint the fence before it rains.",
    # games and hobbies
    "What is the best opening move in chess?", "How do you solve a Rubik's cube?",
    "Teach me how to juggle three balls.", "What are the rules of sudoku?",
    "Who invented the game of Go?", "How do I start knitting a scarf?",
    "What is a good first telescope for stargazing?", "How do I take sharper photos at night?",
    "Give me a riddle to solve.", "Roll a twenty-sided die for me.",
]


def off_topic_halves() -> tuple[list[str], list[str]]:
    """(calibration, held_out): even indices choose the threshold, odd ones only measure it."""
    return OFF_TOPIC[0::2], OFF_TOPIC[1::2]
