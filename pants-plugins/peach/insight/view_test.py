from peach.config.requirements import Declaration, Tier
from peach.config.typed import Source
from peach.insight.view import candidate_order


def test_the_candidate_order_is_tier_then_file_then_line() -> None:
    declared = [Declaration("a==3", Tier.ENVIRONMENT, Source("ml.yaml", 10)),
                Declaration("a==2", Tier.ENVIRONMENT, Source("ml.yaml", 9)),
                Declaration("a==1", Tier.BASE, Source("peach.yaml", 30))]
    assert [d.requirement for d in candidate_order(declared)] == ["a==1", "a==2", "a==3"]
