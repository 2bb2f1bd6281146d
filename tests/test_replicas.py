"""The vectorised replica trainer retraces the lesson's own training loop, one replica per seed."""

import pytest
import torch

from autograder.replicas import _Adam, learns, lesson_data, train_one, train_replicas, train_width_grid, verify_claim


@pytest.fixture(scope="module")
def data():
    return lesson_data()


def test_lesson_data_is_the_notebooks_boolean_function():
    state = torch.get_rng_state()
    torch.manual_seed(1234)
    data_x = torch.tensor([[(i >> k) & 1 for k in range(8)] for i in range(256)], dtype=torch.float)
    data_y = torch.randint(low=0, high=2, size=(256, 8)).type(torch.float)
    torch.set_rng_state(state)
    got_x, got_y = lesson_data()
    assert torch.equal(got_x, data_x) and torch.equal(got_y, data_y)


@pytest.mark.parametrize("profile, seeds", [([5], [0, 1]), ([4, 3], [7, 8])])
def test_each_replica_retraces_the_lesson_loop(data, profile, seeds):
    # same initial weights and the same shuffles as nn.Linear + DataLoader after torch.manual_seed(seed)
    state = torch.get_rng_state()
    expected = torch.tensor([train_one(profile, seed, *data, epochs=2) for seed in seeds], dtype=torch.float64)
    torch.set_rng_state(state)
    got = train_replicas(profile, seeds, *data, epochs=2)
    assert got.shape == (len(seeds),)
    assert torch.allclose(got, expected, rtol=0, atol=1e-6)
    assert len(set(got.tolist())) == len(seeds)  # the seeds really give different trainings


def test_replicas_train_independently(data):
    seeds = [3, 4, 5]
    together = train_replicas([6, 4], seeds, *data, epochs=3)
    alone = torch.cat([train_replicas([6, 4], [seed], *data, epochs=3) for seed in seeds])
    assert torch.allclose(together, alone, rtol=0, atol=1e-5)


def test_width_grid_padding_changes_nothing(data):
    grid = train_width_grid([3, 9, 6], [0, 1], *data, epochs=3)
    assert list(grid) == [3, 9, 6]
    for width, least in grid.items():
        assert torch.allclose(least, train_replicas([width], [0, 1], *data, epochs=3), rtol=0, atol=1e-5)
    assert grid[9].max() < grid[3].min()  # a wider net is already ahead after 3 epochs


def test_least_loss_is_the_best_epoch_so_far(data):
    short, long = train_replicas([16], [0], *data, epochs=2), train_replicas([16], [0], *data, epochs=8)
    assert long.item() < short.item() < 0.7


def test_training_until_a_quorum_learns_stops_early_with_the_same_verdict(data):
    seeds = [0, 1, 2]
    full, short = train_replicas([16], seeds, *data, epochs=8), train_replicas([16], seeds, *data, epochs=4)
    threshold = sorted(short.tolist())[1]  # two of three replicas reach it at the 4th epoch (losses still fall)
    early = train_replicas([16], seeds, *data, epochs=8, until_learned=(threshold, 2))
    assert learns(full, threshold, 2) and learns(early, threshold, 2)
    assert torch.equal(early, short) and bool((early > full).all())  # it stopped after the 4th epoch
    never = train_replicas([16], seeds, *data, epochs=8, until_learned=(0.0, 2))
    assert torch.equal(never, full)  # a quorum that never learns trains every epoch: the same least losses


def test_a_claim_verified_seed_group_by_group_gets_the_verdict_of_all_seeds(data):
    seeds = [0, 1, 2, 3, 4]
    full = sorted(train_replicas([12], seeds, *data, epochs=4).tolist())
    # thresholds between the replicas' least losses: from none learning to all five
    for threshold in [full[0] - 1e-3, *((a + b) / 2 for a, b in zip(full, full[1:])), full[-1] + 1e-3]:
        whole = train_replicas([12], seeds, *data, epochs=4)
        verified = verify_claim([12], seeds, *data, threshold, epochs=4)
        assert learns(verified, threshold, 3) == learns(whole, threshold), threshold
        assert len(verified) in (3, 5)


def test_flat_adam_matches_torch_adam_bit_for_bit():
    gen = torch.Generator().manual_seed(0)
    ours, theirs = torch.randn(50, generator=gen), torch.zeros(50, requires_grad=True)
    theirs.data.copy_(ours)
    grad = torch.zeros(50)
    adam, reference = _Adam(ours, grad, lr=5e-3), torch.optim.Adam([theirs], lr=5e-3)
    for _ in range(100):
        grad.copy_(torch.randn(50, generator=gen) * ours)
        theirs.grad = grad.clone()
        adam.step()
        reference.step()
    assert torch.equal(ours, theirs.detach())


def test_learns_needs_a_quorum_at_the_threshold():
    losses = torch.tensor([5e-4, 1e-3, 2e-3, 0.3])
    assert not learns(losses)  # 2 of 4 is no strict majority
    assert learns(losses, quorum=2)
    assert learns(losses[:3])
    assert not learns(losses, threshold=1e-4, quorum=1)


def test_a_stated_training_is_retraced_too(data):
    # the judge trains a student's claim with the learning rate and epochs the student states
    state = torch.get_rng_state()
    expected = torch.tensor([train_one([6], seed, *data, epochs=3, lr=2e-2) for seed in (0, 1)], dtype=torch.float64)
    torch.set_rng_state(state)
    got = train_replicas([6], [0, 1], *data, epochs=3, lr=2e-2)
    assert torch.allclose(got, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(got, train_replicas([6], [0, 1], *data, epochs=3), rtol=0, atol=1e-6)


# the graders module marks its tests with the autograder's `exercise` mark, unknown outside grading
judge_only = pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")


@judge_only
@pytest.mark.parametrize("items, feedback", [
    ({"lr": 1e-2, "epochs": 5000}, 'should be a whole number from 1 to 2000 (it is 5000)'),
    ({"lr": 1e-6}, 'should be a number from 1e-5 to 1 (it is 1e-06)'),
    ({"lr": "nan"}, 'should be a number from 1e-5 to 1.'),
    ({"epochs": 0}, 'should be a whole number from 1 to 2000 (it is 0)'),
    ({"lr": 1e-2, "batch_size": 1}, 'only "lr" and "epochs" can be changed'),
])
def test_a_training_out_of_bounds_fails_with_words(items, feedback):
    from lessons.hands_on_dl.test_hands_on_dl import stated_training
    from autograder.judge import GradingFailure

    with pytest.raises(GradingFailure, match=feedback.replace("(", r"\(").replace(")", r"\)")):
        stated_training({"given": True, "kind": "dict", "items": items}, "w_1_training")


@judge_only
def test_a_stated_training_defaults_where_it_says_nothing():
    from lessons.hands_on_dl.test_hands_on_dl import stated_training

    assert stated_training({"given": False}, "w_1_training") == {"lr": 5e-3, "epochs": 250}
    assert stated_training({"given": True, "kind": "dict", "items": {"epochs": 600}}, "w_1_training") == \
        {"lr": 5e-3, "epochs": 600}
    assert stated_training({"given": True, "kind": "dict", "items": {"lr": 1, "epochs": 2000.0}}, "w_2_training") == \
        {"lr": 1.0, "epochs": 2000}
