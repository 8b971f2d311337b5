//! Login, the caller, personal tokens and platform users.
use crate::*;

impl Client {
    /// `POST /auth/login`; the session token is in `Session::token`.
    pub async fn login(&self, email: &str, password: impl Into<Secret>) -> Result<Session> {
        let password = password.into();
        self.post(
            "/auth/login",
            &serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    /// `POST /auth/logout`: this client's session token stops working.
    pub async fn logout(&self) -> Result<()> {
        Self::empty(self.api(Method::POST, "/auth/logout")).await
    }

    pub async fn me(&self) -> Result<MeResponse> {
        self.get("/me").await
    }

    pub async fn list_personal_tokens(&self, page: &ListParams) -> Result<Page<PersonalToken>> {
        self.list("/me/tokens", page).await
    }

    pub async fn create_personal_token(
        &self,
        body: &CreateToken,
    ) -> Result<WithSecret<PersonalToken>> {
        self.post("/me/tokens", body).await
    }

    pub async fn revoke_personal_token(&self, id: TokenId) -> Result<()> {
        self.delete(&format!("/me/tokens/{id}")).await
    }

    pub async fn list_users(&self, page: &ListParams) -> Result<Page<User>> {
        self.list("/users", page).await
    }

    pub async fn create_user(&self, body: &CreateUser) -> Result<User> {
        self.post("/users", body).await
    }

    pub async fn get_user(&self, id: UserId) -> Result<User> {
        self.get(&format!("/users/{id}")).await
    }

    pub async fn update_user(&self, id: UserId, body: &UpdateUser) -> Result<User> {
        self.patch(&format!("/users/{id}"), body).await
    }

    /// `POST /tokens/revoke-leaked`; answers how many were revoked.
    pub async fn revoke_leaked<S: AsRef<str>>(&self, tokens: &[S]) -> Result<usize> {
        let body = RevokeLeaked {
            tokens: tokens.iter().map(|t| t.as_ref().to_owned()).collect(),
        };
        let r: Revoked = self.post("/tokens/revoke-leaked", &body).await?;
        Ok(r.revoked)
    }
}
