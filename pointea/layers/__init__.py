"""Building blocks of pointea's networks, one concept per file."""

from pointea.layers.external_attention import ExternalAttention, double_normalize
from pointea.layers.lbr import LBR
from pointea.layers.offset_attention import ATTENTION_ALIASES, ATTENTION_KINDS, AttentionKind, OffsetAttentionLayer
from pointea.layers.pooling import GlobalPool
from pointea.layers.sample_and_group import SampleAndGroup
from pointea.layers.sampling import fps, knn
from pointea.layers.self_attention import SelfAttention

__all__ = [
    "ATTENTION_ALIASES",
    "ATTENTION_KINDS",
    "AttentionKind",
    "ExternalAttention",
    "GlobalPool",
    "LBR",
    "OffsetAttentionLayer",
    "SampleAndGroup",
    "SelfAttention",
    "double_normalize",
    "fps",
    "knn",
]
