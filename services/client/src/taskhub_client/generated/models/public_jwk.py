from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import Literal, cast






T = TypeVar("T", bound="PublicJwk")



@_attrs_define
class PublicJwk:
    """ 
        Attributes:
            kty (Literal['RSA']):
            kid (str):
            use (Literal['sig']):
            alg (Literal['RS256']):
            n (str):
            e (str):
     """

    kty: Literal['RSA']
    kid: str
    use: Literal['sig']
    alg: Literal['RS256']
    n: str
    e: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        kty = self.kty

        kid = self.kid

        use = self.use

        alg = self.alg

        n = self.n

        e = self.e


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "kty": kty,
            "kid": kid,
            "use": use,
            "alg": alg,
            "n": n,
            "e": e,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kty = cast(Literal['RSA'] , d.pop("kty"))
        if kty != 'RSA':
            raise ValueError(f"kty must match const 'RSA', got '{kty}'")

        kid = d.pop("kid")

        use = cast(Literal['sig'] , d.pop("use"))
        if use != 'sig':
            raise ValueError(f"use must match const 'sig', got '{use}'")

        alg = cast(Literal['RS256'] , d.pop("alg"))
        if alg != 'RS256':
            raise ValueError(f"alg must match const 'RS256', got '{alg}'")

        n = d.pop("n")

        e = d.pop("e")

        public_jwk = cls(
            kty=kty,
            kid=kid,
            use=use,
            alg=alg,
            n=n,
            e=e,
        )


        public_jwk.additional_properties = d
        return public_jwk

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
